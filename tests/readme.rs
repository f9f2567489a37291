//! The README's quickstart figures: the quickstart is seconds away, so its table is checked
//! against a fresh run.

use crate::common::Sandbox;

#[test]
fn the_readme_quickstart_figures_are_the_quickstart_run() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let start = readme
        .find("<!-- quickstart figures -->")
        .expect("quickstart figures marker");
    let end = readme
        .find("<!-- end quickstart figures -->")
        .expect("end marker");
    let rows: Vec<Vec<&str>> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| model"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let s = Sandbox::new();
    let config = format!("{root}/configs/quickstart.toml");
    s.run(&["train", &config, "-q"]).ok();
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("artifacts/quickstart/metrics.json")).expect("metrics"),
    )
    .expect("json");
    for row in rows {
        let model = &m["models"][row[0]];
        let got: Vec<String> = ["auc", "hr_at_k", "ndcg_at_k"]
            .iter()
            .map(|k| format!("{:.4}", model[*k].as_f64().expect(k)))
            .collect();
        assert_eq!(got, row[1..].to_vec(), "README quickstart row {}", row[0]);
    }
}
