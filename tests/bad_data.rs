//! Bad input files and columns: a clear error naming file/column/row, exit code 2, no panic,
//! no half-written run directory.

use crate::common::{EVENTS_CSV, Sandbox, config, ctr_csv};

/// Train on `file` (written with `content`) with the given [data] lines; expect a failure.
fn fails(file: &str, content: &[u8], data: &str, needles: &[&str]) {
    let s = Sandbox::new();
    s.write(file, content);
    s.write("c.toml", config(&format!("path = \"{file}\"\n{data}"), ""));
    s.run(&["train", "c.toml", "-q"]).fails_with(needles);
    assert!(
        s.ls("artifacts").is_empty(),
        "artifacts left: {:?}",
        s.ls("artifacts")
    );
}

#[test]
fn missing_file() {
    let s = Sandbox::new();
    s.write("c.toml", config("path = \"nope.csv\"", ""));
    s.run(&["train", "c.toml"])
        .fails_with(&["nope.csv", "not found"]);
}

#[test]
fn empty_file() {
    fails("a.csv", b"", "", &["a.csv", "empty"]);
}

#[test]
fn header_only() {
    fails(
        "a.csv",
        b"user,item,timestamp\n",
        "",
        &["a.csv", "no data rows"],
    );
}

#[test]
fn truncated_last_line() {
    fails(
        "a.csv",
        b"user,item,timestamp\n1,2,3\n1,3",
        "",
        &["a.csv", "timestamp", "row 2"],
    );
}

#[test]
fn non_utf8_bytes() {
    fails(
        "a.csv",
        b"user,item,timestamp\n1,2,3\n\xff\xfe,3,4\n",
        "",
        &["a.csv", "line 3", "UTF-8"],
    );
}

#[test]
fn wrong_delimiter_lists_the_single_column() {
    fails(
        "a.csv",
        b"user;item;timestamp\n1;2;3\n",
        "",
        &["no column `user`", "delimiter"],
    );
}

#[test]
fn gzip_that_is_not_gzip() {
    fails(
        "a.csv.gz",
        EVENTS_CSV.as_bytes(),
        "",
        &["a.csv.gz", "not gzip"],
    );
}

#[test]
fn parquet_that_is_not_parquet() {
    fails(
        "a.parquet",
        EVENTS_CSV.as_bytes(),
        "",
        &["a.parquet", "not a Parquet file"],
    );
}

#[test]
fn configured_column_missing_lists_those_that_exist() {
    fails(
        "a.csv",
        EVENTS_CSV.as_bytes(),
        "user = \"uid\"",
        &["no column `uid`", "`user`, `item`, `timestamp`"],
    );
}

#[test]
fn non_numeric_feature_names_row_and_value() {
    fails(
        "a.csv",
        b"user,item,timestamp,f\n1,2,3,0.5\n1,3,4,abc\n",
        "features = [\"f\"]",
        &["column `f` row 2", "abc"],
    );
}

#[test]
fn nan_and_infinite_features() {
    fails(
        "a.csv",
        b"user,item,timestamp,f\n1,2,3,NaN\n",
        "features = [\"f\"]",
        &["column `f` row 1", "finite"],
    );
    fails(
        "a.csv",
        b"user,item,timestamp,f\n1,2,3,1\n1,2,3,inf\n",
        "features = [\"f\"]",
        &["column `f` row 2", "finite"],
    );
}

#[test]
fn label_not_zero_one() {
    fails(
        "a.csv",
        b"user,item,timestamp,c\n1,2,3,1\n1,3,4,2\n",
        "label = \"c\"",
        &["column `c` row 2", "not 0 or 1"],
    );
}

#[test]
fn unparsable_and_negative_timestamps() {
    fails(
        "a.csv",
        b"user,item,timestamp\n1,2,3\n1,3,yesterday\n",
        "",
        &["column `timestamp` row 2", "yesterday"],
    );
    fails(
        "a.csv",
        b"user,item,timestamp\n1,2,3\n1,3,-5\n",
        "",
        &["column `timestamp` row 2", "negative"],
    );
    fails(
        "a.csv",
        b"user,item,timestamp\n1,2,2017-02-30 10:00\n",
        "timestamp_unit = \"datetime\"",
        &["row 1", "not a date-time"],
    );
}

#[test]
fn event_missing_from_weights() {
    fails(
        "a.csv",
        b"user,item,timestamp,ev\n1,2,3,VIEW\n1,3,4,SHARE\n",
        "event = \"ev\"\n[data.event_weights]\nVIEW = 1.0",
        &["\"SHARE\"", "row 2", "unknown_events = \"skip\""],
    );
}

#[test]
fn negative_weights() {
    fails(
        "a.csv",
        b"user,item,timestamp,w\n1,2,3,1\n1,3,4,-1\n",
        "weight = \"w\"",
        &["column `w` row 2", "negative weight"],
    );
}

#[test]
fn every_user_on_one_day_means_an_empty_test_set() {
    fails(
        "a.csv",
        b"user,item,timestamp\n1,2,3\n1,3,4\n2,2,5\n",
        "",
        &["test part is empty", "global_days"],
    );
}

#[test]
fn single_class_test_set_reports_ranking_metrics() {
    let s = Sandbox::new();
    // day 1 rows are all non-clicks
    let mut csv = String::from("user,item,timestamp,c\n");
    for u in 0..6 {
        for i in 0..4 {
            csv.push_str(&format!(
                "{u},{i},{},{}\n",
                i * 10,
                u8::from((u + i) % 2 == 0)
            ));
        }
        csv.push_str(&format!("{u},{},{},0\n", u % 4, 86_400 + u));
    }
    s.write("a.csv", csv);
    s.write("c.toml", config("path = \"a.csv\"\nlabel = \"c\"", ""));
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    assert!(
        out.stdout
            .contains("AUC and the ROC threshold are undefined"),
        "{}",
        out.stdout
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("artifacts/t/metrics.json")).unwrap())
            .unwrap();
    assert!(m["models"]["popularity"]["auc"].is_null());
    assert!(m["models"]["popularity"]["hr_at_k"].is_number());
}

#[test]
fn constant_feature_is_fine() {
    let s = Sandbox::new();
    let csv = ctr_csv().replace(",level\n", ",level,const\n");
    let csv: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                format!("{l},7\n")
            }
        })
        .collect();
    s.write("a.csv", csv);
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"\nlabel = \"click\"\nfeatures = [\"level\", \"const\"]",
            "",
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
}

#[test]
fn side_table_ids_as_text_that_are_not_numbers() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("users.csv", "uid,age\nu1,20\nu2,30\n");
    s.write(
        "c.toml",
        config("path = \"a.csv\"\n[data.user_table]\npath = \"users.csv\"\nkey = \"uid\"\nfeatures = [\"age\"]", ""),
    );
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["users.csv", "key column `uid`", "integers"]);
}

#[test]
fn repeated_header_column_is_an_error_naming_it() {
    fails(
        "a.csv",
        b"user,item,timestamp,item\n1,10,100,11\n2,10,200,12\n",
        "",
        &["a.csv", "`item`", "more than once"],
    );
}
