//! The dependency graph of a site's services, from what its workers found:
//! compose `depends_on`, `claudeops.depends_on` labels and manifests (all of
//! them land in a service's `depends_on` in the inventory).
//!
//! A fault in a dependency is one incident, for the root: the services that
//! depend on it are "impacted" (shown, not separately alerted or repaired),
//! a session for the root may act on what it depends on, and a session's
//! evidence carries the graph. Pure but for [`Graph::of_site`].

use std::collections::{BTreeMap, BTreeSet};

use claudeops_core::SiteName;
use claudeops_core::inventory::Inventory;

use crate::context::Context;

/// At most this many services are followed from one (a cycle or a huge graph ends there).
const MAX_REACH: usize = 64;

/// Service -> the services it depends on, by normalised name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// Normalised name -> the name as discovery spells it.
    names: BTreeMap<String, String>,
}

/// `Home Assistant`, `home-assistant` and `home_assistant` name one service
/// (as discovery joins them).
pub fn key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Graph {
    /// The graph of the site's latest inventories (empty when none reads).
    pub async fn of_site(ctx: &Context, site: &SiteName) -> Graph {
        let mut graph = Graph::default();
        for record in ctx.store.inventories(site).await.unwrap_or_default() {
            if let Ok(inventory) = Inventory::from_json(&record.inventory.to_string()) {
                for service in &inventory.services {
                    graph.add(&service.name, &service.depends_on);
                }
            }
        }
        graph
    }

    pub fn add(&mut self, service: &str, depends_on: &[String]) {
        self.names.insert(key(service), service.to_owned());
        let edges = self.edges.entry(key(service)).or_default();
        for dep in depends_on {
            edges.insert(key(dep));
        }
        for dep in depends_on {
            self.names.entry(key(dep)).or_insert_with(|| dep.clone());
        }
    }

    fn name(&self, key: &str) -> String {
        self.names
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// Everything `service` depends on, nearest first, without itself.
    pub fn dependencies(&self, service: &str) -> Vec<String> {
        self.reach(service, |k| self.edges.get(k).cloned().unwrap_or_default())
    }

    /// Everything that depends on `service`, nearest first, without itself.
    pub fn dependents(&self, service: &str) -> Vec<String> {
        self.reach(service, |k| {
            self.edges
                .iter()
                .filter(|(_, deps)| deps.contains(k))
                .map(|(s, _)| s.clone())
                .collect()
        })
    }

    fn reach(&self, service: &str, next: impl Fn(&str) -> BTreeSet<String>) -> Vec<String> {
        let start = key(service);
        let mut seen = vec![start.clone()];
        let mut i = 0;
        while i < seen.len() && seen.len() <= MAX_REACH {
            for k in next(&seen[i]) {
                if !seen.contains(&k) {
                    seen.push(k);
                }
            }
            i += 1;
        }
        seen.into_iter().skip(1).map(|k| self.name(&k)).collect()
    }

    /// The graph around `service` for a session's evidence: what it depends
    /// on and what depends on it, one line each.
    pub fn describe(&self, service: &str) -> Option<String> {
        let deps = self.dependencies(service);
        let dependents = self.dependents(service);
        if deps.is_empty() && dependents.is_empty() {
            return None;
        }
        let mut out = String::new();
        for s in std::iter::once(service.to_owned())
            .chain(deps.iter().cloned())
            .chain(dependents.iter().cloned())
        {
            let direct: Vec<String> = self
                .edges
                .get(&key(&s))
                .map(|d| d.iter().map(|k| self.name(k)).collect())
                .unwrap_or_default();
            if !direct.is_empty() {
                out.push_str(&format!("- {s} depends on {}\n", direct.join(", ")));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Graph {
        let mut g = Graph::default();
        g.add("app", &["cache".into()]);
        g.add("cache", &["db".into()]);
        g.add("db", &[]);
        g.add("worker", &["DB".into(), "app".into()]);
        g
    }

    #[test]
    fn follows_edges_both_ways() {
        let g = chain();
        assert_eq!(g.dependencies("app"), ["cache", "db"]);
        assert_eq!(g.dependencies("db"), Vec::<String>::new());
        assert_eq!(g.dependents("db"), ["cache", "worker", "app"]);
        assert_eq!(g.dependents("app"), ["worker"]);
        assert_eq!(g.dependencies("Worker"), ["app", "db", "cache"]);
    }

    #[test]
    fn survives_a_cycle() {
        let mut g = Graph::default();
        g.add("a", &["b".into()]);
        g.add("b", &["a".into()]);
        assert_eq!(g.dependencies("a"), ["b"]);
        assert_eq!(g.dependents("a"), ["b"]);
    }

    #[test]
    fn describes_the_neighbourhood() {
        let text = chain().describe("cache").unwrap_or_default();
        assert!(text.contains("- cache depends on db"), "{text}");
        assert!(text.contains("- app depends on cache"), "{text}");
        assert!(chain().describe("unknown").is_none());
    }
}
