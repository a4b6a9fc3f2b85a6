//! A tiny `--name value` argument reader for the two binaries (no flags library needed).

use std::collections::HashMap;
use std::str::FromStr;

#[derive(Debug, Default)]
pub struct Args {
    pub positional: Vec<String>,
    named: HashMap<String, String>,
}

impl Args {
    /// `--name value` pairs and positional words; `--flag` alone is `"true"`.
    pub fn parse(words: impl IntoIterator<Item = String>) -> Self {
        let mut args = Self::default();
        let mut words = words.into_iter().peekable();
        while let Some(word) = words.next() {
            match word.strip_prefix("--") {
                Some(name) => {
                    let value = match words.peek() {
                        Some(next) if !next.starts_with("--") => words.next().unwrap_or_default(),
                        _ => "true".to_string(),
                    };
                    args.named.insert(name.to_string(), value);
                }
                None => args.positional.push(word),
            }
        }
        args
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.named.get(name).map(String::as_str)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.text(name).is_some_and(|v| v != "false")
    }

    /// The value of `--name`, or `default`; a value that does not parse is an error naming it.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.text(name) {
            None => Ok(default),
            Some(raw) => raw.replace('_', "").parse().map_err(|_| format!("--{name}: cannot read {raw:?}")),
        }
    }
}

/// `100k` → 100000, `1m` → 1000000, `2500` → 2500.
pub fn count(raw: &str) -> Result<u64, String> {
    let lower = raw.to_ascii_lowercase().replace('_', "");
    let (digits, scale) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1_000),
        Some(b'm') => (&lower[..lower.len() - 1], 1_000_000),
        _ => (lower.as_str(), 1),
    };
    digits.parse::<u64>().map(|n| n * scale).map_err(|_| format!("cannot read the count {raw:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_flags_and_counts() {
        let args = Args::parse(["users", "--rows", "1m", "--quick", "--seed", "7"].map(String::from));
        assert_eq!(args.positional, ["users"]);
        assert_eq!(args.text("rows"), Some("1m"));
        assert!(args.flag("quick"));
        assert_eq!(args.get("seed", 0u64), Ok(7));
        assert_eq!(count("100k"), Ok(100_000));
        assert_eq!(count("1M"), Ok(1_000_000));
    }
}
