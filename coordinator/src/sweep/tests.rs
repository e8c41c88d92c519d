use super::*;

const TRIAL: &str = r#"
name = "t"
[grid]
architecture = "small"
dataset = "moons"
learning_rate = 0.1
regime = "full"
seed = 0
[architectures.small]
hidden = [16, 2]
[datasets.moons]
source = "moons"
n = 200
[training]
epochs = 5
"#;

fn parse(text: &str) -> Result<Sweep, SpecError> {
    Sweep::from_toml(text, Path::new("test.toml"))
}

fn messages(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string_in(Path::new("test.toml"))).collect(),
    }
}

#[test]
fn a_trial_file_is_a_one_point_sweep() {
    let s = parse(TRIAL).unwrap();
    assert_eq!(s.len(), 1);
    let t = s.trial(0).unwrap();
    assert_eq!(t.spec.training.epochs, 5);
    assert_eq!(t.spec.training.batch_size, 64);
    assert_eq!(t.spec.svm.penalty, SvmPenalty::Hard);
    assert_eq!(t.spec.sweep, "t");
    assert_eq!(t.trial_id.len(), 16);
    assert!(s.trial(1).is_err());
}

#[test]
fn grid_expands_deterministically_with_last_axis_fastest() {
    let text = TRIAL.replace("learning_rate = 0.1", "learning_rate = [0.1, 0.2]").replace("seed = 0", "seed = [0, 1, 2]")
        .replace("[architectures.small]", "training.batch_size = [16, 32]\n[architectures.small]");
    let s = parse(&text).unwrap();
    assert_eq!(s.len(), 12);
    let keys: Vec<_> = s.axes().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["architecture", "dataset", "learning_rate", "regime", "seed", "training.batch_size"]);
    let t0 = s.trial(0).unwrap();
    let t1 = s.trial(1).unwrap();
    assert_eq!((t0.spec.seed, t0.spec.training.batch_size), (0, 16));
    assert_eq!((t1.spec.seed, t1.spec.training.batch_size), (0, 32));
    assert_eq!(s.trial(11).unwrap().spec.learning_rate, 0.2);
    let ids: std::collections::BTreeSet<_> = (0..12).map(|i| s.trial(i).unwrap().trial_id).collect();
    assert_eq!(ids.len(), 12);
    // The same point keeps its id when the grid grows.
    let bigger = parse(&text.replace("seed = [0, 1, 2]", "seed = [0, 1, 2, 3]")).unwrap();
    let bigger_ids: std::collections::BTreeSet<_> = (0..bigger.len()).map(|i| bigger.trial(i).unwrap().trial_id).collect();
    assert!(ids.is_subset(&bigger_ids));
    assert!(bigger.check_extends(&s).is_ok());
    assert!(s.check_extends(&bigger).unwrap_err().contains("lost"));
    let changed = parse(&text.replace("epochs = 5", "epochs = 6")).unwrap();
    assert!(changed.check_extends(&s).unwrap_err().contains("different"));
}

#[test]
fn unknown_fields_are_errors_with_lines() {
    let m = messages(&TRIAL.replace("epochs = 5", "epochs = 5\nepoch = 3"));
    assert!(m[0].contains("test.toml:16") && m[0].contains("epoch"), "{m:?}");
    let m = messages(&TRIAL.replace("[training]", "[training]\nbatch_size = \"big\""));
    assert!(m[0].contains("test.toml:15"), "{m:?}");
}

#[test]
fn semantic_errors_name_field_and_expectation() {
    let m = messages(&TRIAL.replace("learning_rate = 0.1", "learning_rate = -0.1"));
    assert!(m[0].contains("grid.learning_rate") && m[0].contains("> 0"), "{m:?}");
    let m = messages(&TRIAL.replace("learning_rate = 0.1", "learning_rate = nan"));
    assert!(m[0].contains("finite"), "{m:?}");
    let m = messages(&TRIAL.replace("architecture = \"small\"", "architecture = \"huge\""));
    assert!(m[0].contains("unknown architecture \"huge\"") && m[0].contains("\"small\""), "{m:?}");
    let m = messages(&TRIAL.replace("n = 200", "n = 200\nr0 = 1.0"));
    assert!(m[0].contains("datasets.moons.r0") && m[0].contains("does not apply"), "{m:?}");
    let m = messages(&TRIAL.replace("hidden = [16, 2]", "hidden = [16, -2]"));
    assert!(m[0].contains("hidden[1]"), "{m:?}");
    let m = messages(&TRIAL.replace("regime = \"full\"", "regime = [\"full\", \"full\"]"));
    assert!(m[0].contains("listed twice"), "{m:?}");
}

#[test]
fn absurd_grids_are_refused_without_expanding() {
    let seeds: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let list = format!("[{}]", seeds.join(","));
    let text = TRIAL.replace("seed = 0", &format!("seed = {list}"))
        .replace("[architectures.small]", &format!("training.epochs = {list}\ntraining.batch_size = {list}\ntraining.pretrain_epochs = {list}\n[architectures.small]"));
    let m = messages(&text);
    assert!(m.iter().any(|l| l.contains("at most 10000000")), "{m:?}");
}

#[test]
fn cnn_needs_an_image_dataset() {
    let m = messages(&TRIAL.replace("hidden = [16, 2]", "kind = \"cnn\"\nchannels = [4]\nhidden = [8]"));
    assert!(m[0].contains("needs an image dataset"), "{m:?}");
}
