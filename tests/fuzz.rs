//! Property tests (the fuzzing of the loading path): arbitrary config text and arbitrary CSV
//! bytes never panic; they load or fail with an error. Run long with e.g.
//! `PROPTEST_CASES=200000 cargo test --release --test integration fuzz::`.

use std::path::Path;

use proptest::prelude::*;

const VALID: &str = "name = \"t\"\nseed = 3\n[data]\npath = \"a.csv\"\nlabel = \"c\"\nfeatures = [\"f\"]\n\
[filter]\nmin_user_interactions = 1\n[split]\nmethod = \"last_day\"\n[eval]\nk = 5\n\
[ncf]\nepochs = 1\n[als]\nfactors = 4\n";

fn load_config(text: &str) {
    let _ = clickrec::config::from_str(text, Path::new("f.toml"), ".".into(), &[]);
}

/// Load a CSV through the whole data path (read, type, dedupe, filter, split, encode).
fn load_csv(bytes: &[u8], data: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("a.csv"), bytes).expect("write");
    let text = format!("name = \"t\"\n[data]\npath = \"a.csv\"\n{data}\n");
    if let Ok(cfg) =
        clickrec::config::from_str(&text, Path::new("f.toml"), dir.path().to_path_buf(), &[])
        && let Ok(p) = clickrec::pipeline::prepare(&cfg)
    {
        let _ = clickrec::eval::evaluate(
            &clickrec::model::popularity::Popularity::fit(&p.ds, None),
            &p.ds,
            &clickrec::pipeline::eval_settings(&cfg),
        );
    }
}

/// CSV-ish text: a header then rows of small fields drawn from a nasty alphabet.
fn csv_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "[0-9]{1,3}",
        "-?[0-9]{1,12}",
        "[0-9]\\.[0-9]",
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("\"a,b\"".to_string()),
        "[a-z ]{0,4}",
    ];
    let row = prop::collection::vec(field, 1..6).prop_map(|f| f.join(","));
    prop::collection::vec(row, 0..30)
        .prop_map(|rows| format!("user,item,timestamp,c,f\n{}", rows.join("\n")))
}

proptest! {
    #[test]
    fn arbitrary_config_text_never_panics(text in "\\PC{0,200}") {
        load_config(&text);
    }

    #[test]
    fn mutated_valid_config_never_panics(cut in 0usize..400, insert in "[\\[\\]=\"a-z0-9._\\n -]{0,12}") {
        let cut = cut.min(VALID.len());
        let text = format!("{}{insert}{}", &VALID[..cut], &VALID[cut..]);
        load_config(&text);
    }

    #[test]
    fn arbitrary_bytes_as_csv_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        load_csv(&bytes, "");
    }

    #[test]
    fn csv_like_text_never_panics(text in csv_text(), ctr in any::<bool>(), dedupe in any::<bool>()) {
        let data = format!(
            "{}{}features = [\"f\"]\n[filter]\nmin_item_users = 1\nrepeat = true",
            if ctr { "label = \"c\"\n" } else { "" },
            if dedupe { "dedupe = true\n" } else { "" },
        );
        load_csv(text.as_bytes(), &data);
    }
}
