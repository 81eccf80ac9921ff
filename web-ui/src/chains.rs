//! Escalation chains on the sessions page: a Tier 1 run and the Tier 2 and Tier 3
//! runs it escalated into are shown together, parent first, children indented.
//!
//! Why it exists: the list arrives newest first, which scatters a chain's members
//! between unrelated runs; grouping is a presentation decision, so it lives here and
//! not in the control plane's query.
//!
//! What it must not do: drop or invent rows. A child whose parent is not on this page
//! stays in its own group (it still says "escalated from #N"); a parent cycle in bad
//! data is cut, never looped on.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::SessionRow;

/// One chain: its rows in reading order (root first), each with its depth.
#[derive(Debug, Serialize)]
pub(crate) struct Chain<'a> {
    pub rows: Vec<ChainRow<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChainRow<'a> {
    #[serde(flatten)]
    pub row: &'a SessionRow,
    /// 0 for the chain's root, 1 for its child, and so on.
    pub depth: usize,
}

/// Groups rows into chains. Groups keep the order in which their first member appears
/// (so the chain with the newest activity comes first); within a group, a parent comes
/// before its children and siblings keep their given order.
pub(crate) fn group(rows: &[SessionRow]) -> Vec<Chain<'_>> {
    let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let parent_of = |i: usize| -> Option<usize> {
        rows[i]
            .parent_id
            .and_then(|p| index.get(&p).copied())
            .filter(|&p| p != i)
    };
    let root_of = |i: usize| -> usize {
        let mut cur = i;
        // At most rows.len() steps: a longer walk means a cycle, cut it there.
        for _ in 0..rows.len() {
            match parent_of(cur) {
                Some(p) if p != i => cur = p,
                _ => break,
            }
        }
        cur
    };

    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots: Vec<usize> = Vec::new();
    let mut root_seen: HashSet<usize> = HashSet::new();
    for i in 0..rows.len() {
        let root = root_of(i);
        if root_seen.insert(root) {
            roots.push(root);
        }
        if let Some(p) = parent_of(i) {
            children.entry(p).or_default().push(i);
        }
    }

    let mut placed = vec![false; rows.len()];
    let mut chains: Vec<Chain<'_>> = roots
        .into_iter()
        .map(|root| {
            let mut out = Vec::new();
            let mut stack = vec![(root, 0usize)];
            while let Some((i, depth)) = stack.pop() {
                if std::mem::replace(&mut placed[i], true) {
                    continue;
                }
                out.push(ChainRow {
                    row: &rows[i],
                    depth,
                });
                if let Some(kids) = children.get(&i) {
                    // Oldest child first: the given order is newest first.
                    stack.extend(kids.iter().map(|&k| (k, depth + 1)));
                }
            }
            Chain { rows: out }
        })
        .filter(|c| !c.rows.is_empty())
        .collect();
    // Only a parent cycle in bad data leaves rows unplaced: show them on their own.
    for (i, done) in placed.iter().enumerate() {
        if !done {
            chains.push(Chain {
                rows: vec![ChainRow {
                    row: &rows[i],
                    depth: 0,
                }],
            });
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, parent_id: Option<i64>) -> SessionRow {
        SessionRow {
            id,
            parent_id,
            ..SessionRow::default()
        }
    }

    fn shape(chains: &[Chain<'_>]) -> Vec<Vec<(i64, usize)>> {
        chains
            .iter()
            .map(|c| c.rows.iter().map(|r| (r.row.id, r.depth)).collect())
            .collect()
    }

    #[test]
    fn groups_children_under_parents_newest_chain_first() {
        let rows = [
            row(7, Some(6)),
            row(6, Some(5)),
            row(5, None),
            row(4, None),
            row(3, Some(2)),
            row(2, None),
        ];
        assert_eq!(
            shape(&group(&rows)),
            vec![
                vec![(5, 0), (6, 1), (7, 2)],
                vec![(4, 0)],
                vec![(2, 0), (3, 1)],
            ]
        );
    }

    #[test]
    fn orphan_child_keeps_its_place() {
        let rows = [row(9, Some(1)), row(8, None)];
        assert_eq!(shape(&group(&rows)), vec![vec![(9, 0)], vec![(8, 0)]]);
    }

    #[test]
    fn cycles_and_self_parents_do_not_loop_or_lose_rows() {
        let rows = [row(1, Some(2)), row(2, Some(1)), row(3, Some(3))];
        let chains = group(&rows);
        let mut ids: Vec<i64> = chains
            .iter()
            .flat_map(|c| c.rows.iter().map(|r| r.row.id))
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 2, 3]);
    }

    #[test]
    fn siblings_keep_oldest_first() {
        let rows = [row(12, Some(10)), row(11, Some(10)), row(10, None)];
        assert_eq!(shape(&group(&rows)), vec![vec![(10, 0), (11, 1), (12, 1)]]);
    }
}
