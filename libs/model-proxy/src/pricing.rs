//! The price table: what a model's tokens cost, in one place.
//!
//! The proxy meters cost as usage arrives, so the session and daily caps hold
//! without waiting for the CLI's own report. Prices are list prices in USD per
//! million tokens. Cache writes cost 1.25 times the input price and cache reads
//! 0.1 times (the five-minute cache). Long-context surcharges are not modelled.
//!
//! A model id is read as a family (`opus`, `sonnet`, `haiku`) and a version
//! (`claude-opus-4-5-20251101` is opus 4.5, `claude-3-5-haiku-20241022` is
//! haiku 3.5, `claude-opus-4-20250514` is opus 4.0). A model of a known family
//! whose version cannot be read is priced as that family's dearest row; a model
//! of no known family is priced as the dearest row of the table, so an unknown
//! id can only overstate the cost, never let a cap be passed.

/// USD per million tokens for one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Uncached input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
}

/// Tokens of one answer (or the difference between two readings of one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

/// Cache writes cost this many times the input price.
pub const CACHE_WRITE_FACTOR: f64 = 1.25;
/// Cache reads cost this many times the input price.
pub const CACHE_READ_FACTOR: f64 = 0.1;

/// One row: a family, the first version the price applies to, the price.
struct Row {
    family: &'static str,
    from: (u32, u32),
    price: Price,
}

/// The table. For a family, the row with the highest `from` not above the
/// model's version applies.
const TABLE: &[Row] = &[
    // Opus 3, 4.0 and 4.1.
    row("opus", (0, 0), 15.0, 75.0),
    // Opus 4.5 and later.
    row("opus", (4, 5), 5.0, 25.0),
    // Every Sonnet.
    row("sonnet", (0, 0), 3.0, 15.0),
    // Haiku 3.
    row("haiku", (0, 0), 0.25, 1.25),
    // Haiku 3.5.
    row("haiku", (3, 5), 0.80, 4.0),
    // Haiku 4.5 and later.
    row("haiku", (4, 5), 1.0, 5.0),
];

const fn row(family: &'static str, from: (u32, u32), input: f64, output: f64) -> Row {
    Row {
        family,
        from,
        price: Price { input, output },
    }
}

impl Price {
    /// The price of `model` (see the module doc for unknown ids).
    pub fn of(model: &str) -> Price {
        let model = model.to_ascii_lowercase();
        let tokens: Vec<&str> = model
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        let Some((at, family)) = tokens
            .iter()
            .enumerate()
            .find_map(|(i, t)| TABLE.iter().find(|r| r.family == *t).map(|r| (i, r.family)))
        else {
            return dearest(TABLE.iter());
        };
        let rows = TABLE.iter().filter(|r| r.family == family);
        match version(&tokens, at) {
            Some(v) => rows
                .filter(|r| r.from <= v)
                .max_by_key(|r| r.from)
                .map(|r| r.price)
                .unwrap_or_else(|| dearest(TABLE.iter().filter(|r| r.family == family))),
            None => dearest(rows),
        }
    }

    /// What `usage` costs at this price, in USD.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let per_token_in = self.input / 1_000_000.0;
        let per_token_out = self.output / 1_000_000.0;
        usage.input_tokens as f64 * per_token_in
            + usage.cache_creation_input_tokens as f64 * per_token_in * CACHE_WRITE_FACTOR
            + usage.cache_read_input_tokens as f64 * per_token_in * CACHE_READ_FACTOR
            + usage.output_tokens as f64 * per_token_out
    }
}

fn dearest<'a>(rows: impl Iterator<Item = &'a Row>) -> Price {
    rows.map(|r| r.price).fold(
        Price {
            input: 0.0,
            output: 0.0,
        },
        |a, b| {
            if b.output > a.output { b } else { a }
        },
    )
}

/// The version next to the family token: the short numbers after it
/// (`opus-4-5`), else the short numbers before it (`3-5-haiku`). Dates and
/// other long numbers are not versions.
fn version(tokens: &[&str], family_at: usize) -> Option<(u32, u32)> {
    let is_part = |t: &&str| t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit());
    let after: Vec<&str> = tokens[family_at + 1..]
        .iter()
        .copied()
        .take_while(is_part)
        .collect();
    let parts = if after.is_empty() {
        let mut before: Vec<&str> = tokens[..family_at]
            .iter()
            .rev()
            .copied()
            .take_while(is_part)
            .collect();
        before.reverse();
        before
    } else {
        after
    };
    let major = parts.first()?.parse().ok()?;
    let minor = parts.get(1).and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(input: f64, output: f64) -> Price {
        Price { input, output }
    }

    #[test]
    fn families_and_versions() {
        let cases = [
            ("claude-opus-4-5-20251101", p(5.0, 25.0)),
            ("claude-opus-4-5", p(5.0, 25.0)),
            ("claude-opus-4-6", p(5.0, 25.0)),
            ("claude-opus-4-1-20250805", p(15.0, 75.0)),
            ("claude-opus-4-20250514", p(15.0, 75.0)),
            ("claude-opus-4-0", p(15.0, 75.0)),
            ("claude-3-opus-20240229", p(15.0, 75.0)),
            ("claude-sonnet-4-5-20250929", p(3.0, 15.0)),
            ("claude-3-7-sonnet-latest", p(3.0, 15.0)),
            ("claude-haiku-4-5-20251001", p(1.0, 5.0)),
            ("claude-3-5-haiku-20241022", p(0.80, 4.0)),
            ("claude-3-haiku-20240307", p(0.25, 1.25)),
            ("anthropic/claude-haiku-4-5", p(1.0, 5.0)),
            ("us.anthropic.claude-3-5-haiku-20241022-v1:0", p(0.80, 4.0)),
            ("claude-opus-4-5@20251101", p(5.0, 25.0)),
            ("CLAUDE-HAIKU-4-5", p(1.0, 5.0)),
        ];
        for (model, want) in cases {
            assert_eq!(Price::of(model), want, "{model}");
        }
    }

    #[test]
    fn unknown_ids_are_priced_high() {
        // No family: the dearest row of the table.
        assert_eq!(Price::of("gpt-9"), p(15.0, 75.0));
        assert_eq!(Price::of(""), p(15.0, 75.0));
        // A family without a version: that family's dearest row.
        assert_eq!(Price::of("haiku"), p(1.0, 5.0));
        assert_eq!(Price::of("opus"), p(15.0, 75.0));
        assert_eq!(Price::of("claude-sonnet-latest"), p(3.0, 15.0));
    }

    #[test]
    fn cost_counts_every_kind_of_token() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cache_creation_input_tokens: 1_000_000,
            cache_read_input_tokens: 1_000_000,
        };
        let cost = p(3.0, 15.0).cost(&usage);
        assert!((cost - (3.0 + 15.0 + 3.75 + 0.3)).abs() < 1e-9, "{cost}");
        assert_eq!(p(3.0, 15.0).cost(&Usage::default()), 0.0);
    }
}
