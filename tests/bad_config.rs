//! Every config rule: a clear error naming the key, exit code 2, nothing written.

use crate::common::{EVENTS_CSV, Sandbox, config};

fn check(extra: &str, needles: &[&str]) {
    let s = Sandbox::new();
    s.write("log.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"log.csv\"", extra));
    s.run(&["train", "c.toml", "-q"]).fails_with(needles);
    assert!(
        s.ls("artifacts").is_empty(),
        "artifacts written: {:?}",
        s.ls("artifacts")
    );
}

#[test]
fn unknown_key_suggests_the_closest() {
    check(
        "[filter]\nmin_user_interaction = 5",
        &[
            "unknown key `min_user_interaction`",
            "did you mean `min_user_interactions`",
        ],
    );
}

#[test]
fn wrong_type_names_the_key() {
    check("[eval]\nk = \"ten\"", &["c.toml", "invalid type", "k"]);
}

#[test]
fn k_zero() {
    check("[eval]\nk = 0", &["eval.k", "at least 1"]);
}

#[test]
fn cutoff_weight_outside_unit_interval() {
    check(
        "[eval]\ncutoff_weight = 1.5",
        &["eval.cutoff_weight", "[0, 1]"],
    );
}

#[test]
fn batch_size_zero() {
    check("[ncf]\nbatch_size = 0", &["ncf.batch_size"]);
}

#[test]
fn learning_rate_not_positive() {
    check("[ncf]\nlearning_rate = 0.0", &["ncf.learning_rate", "> 0"]);
}

#[test]
fn factors_zero() {
    check("[als]\nfactors = 0", &["als.factors"]);
}

#[test]
fn half_life_not_positive() {
    check(
        "[als]\nhalf_life_days = 0.0",
        &["als.half_life_days", "> 0"],
    );
    check(
        "[popularity]\nhalf_life_days = -3.0",
        &["popularity.half_life_days", "> 0"],
    );
    check("[als]\nhalf_life_days = nan", &["als.half_life_days"]);
}

#[test]
fn test_fraction_one() {
    check(
        "[split]\nmethod = \"random\"\ntest_fraction = 1.0",
        &["split.test_fraction"],
    );
}

#[test]
fn empty_feature_name() {
    check("features = [\"\"]", &["data.features", "non-empty"]);
}

#[test]
fn no_models_enabled() {
    check("[popularity]\nenabled = false", &["no model is enabled"]);
}

#[test]
fn unknown_split_method_lists_the_allowed() {
    check(
        "[split]\nmethod = \"yesterday\"",
        &["unknown variant `yesterday`", "last_day"],
    );
}

#[test]
fn both_path_and_synthetic() {
    check(
        "[data.synthetic]\nkind = \"ctr\"\nusers = 5\nitems = 5\nrows = 10\ndays = 2",
        &["exactly one of `path`"],
    );
}

#[test]
fn malformed_set_override() {
    let s = Sandbox::new();
    s.write("log.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"log.csv\"", ""));
    s.run(&["train", "c.toml", "--set", "eval.k"])
        .fails_with(&["--set eval.k", "key=value"]);
    s.run(&["train", "c.toml", "--set", "eval.k=0"])
        .fails_with(&["eval.k"]);
}

#[test]
fn missing_config_file() {
    Sandbox::new()
        .run(&["train", "nope.toml"])
        .fails_with(&["nope.toml"]);
}

#[test]
fn existing_output_dir_is_refused_without_force() {
    let s = Sandbox::new();
    s.write("log.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"log.csv\"", ""));
    s.run(&["train", "c.toml", "-q"]).ok();
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["already exists", "--force"]);
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    assert_eq!(s.ls("artifacts"), vec!["t"]);
}
