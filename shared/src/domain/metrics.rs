//! The numbers people watch, as CloudWatch Embedded Metric Format lines: a JSON log line with an
//! `_aws` member becomes metrics in the namespace, with no API call and no extra permission
//! (the Powertools convention). Dimensions are bounded: a flow, a refusal code, a tile reason,
//! a building (tens per deployment), never a person or a file.

/// The namespace of every metric the product writes; the template's alarms and dashboard read it.
pub(crate) const NAMESPACE: &str = "VisitorOnboarding";

/// One EMF line: counts that share one set of dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine {
    pub dimensions: Vec<(&'static str, String)>,
    pub values: Vec<(&'static str, f64)>,
}

impl MetricLine {
    pub fn new(dimensions: &[(&'static str, &str)]) -> Self {
        Self { dimensions: dimensions.iter().map(|(k, v)| (*k, v.to_string())).collect(), values: Vec::new() }
    }

    /// Adds a count (zero counts too: an alarm on a sum needs its zeros).
    pub fn count(mut self, name: &'static str, value: u64) -> Self {
        self.values.push((name, value as f64));
        self
    }

    pub fn value(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The line as CloudWatch reads it, stamped `at`.
    pub fn to_emf(&self, at: time::OffsetDateTime) -> String {
        let names: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<serde_json::Value> =
            self.values.iter().map(|(name, _)| serde_json::json!({ "Name": name, "Unit": "Count" })).collect();
        let mut line = serde_json::json!({
            "_aws": {
                "Timestamp": at.unix_timestamp() * 1000,
                "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [names], "Metrics": metrics }],
            },
        });
        for (name, value) in &self.dimensions {
            line[*name] = serde_json::json!(value);
        }
        for (name, value) in &self.values {
            line[*name] = serde_json::json!(value);
        }
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_emf_with_its_dimensions_and_counts() {
        let at = time::macros::datetime!(2026-11-23 09:00 UTC);
        let line = MetricLine::new(&[("Flow", "tenants"), ("Building", "3f2b8c1e")]).count("RowsProcessed", 12).count("RowsRejected", 0);
        let value: serde_json::Value = serde_json::from_str(&line.to_emf(at)).unwrap();
        let spec = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], NAMESPACE);
        assert_eq!(spec["Dimensions"], serde_json::json!([["Flow", "Building"]]));
        assert_eq!(spec["Metrics"][1]["Name"], "RowsRejected");
        assert_eq!(value["_aws"]["Timestamp"], 1_795_424_400_000i64);
        assert_eq!(
            (value["Flow"].as_str(), value["RowsProcessed"].as_f64(), value["RowsRejected"].as_f64()),
            (Some("tenants"), Some(12.0), Some(0.0))
        );
        assert_eq!(line.value("RowsProcessed"), Some(12.0));
        assert_eq!(line.dimension("Building"), Some("3f2b8c1e"));
    }
}
