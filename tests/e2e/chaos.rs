//! Chaos tests: faults injected into real processes on loopback while a sweep runs, then
//! proof that nothing acknowledged was lost and nothing doubled. Each test prints what it
//! injected; `RELIABILITY.md` lists them. Random choices come from a seed that is printed
//! and can be replayed with `HYPERPLANE_CHAOS_SEED`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine_harness::*;

/// A small xorshift generator: reproducible from the printed seed, no extra dependency.
struct Chaos(u64);

impl Chaos {
    fn new(test: &str) -> Chaos {
        let seed = std::env::var("HYPERPLANE_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        eprintln!("{test}: HYPERPLANE_CHAOS_SEED={seed}");
        Chaos(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// The part files of one output kind: asserts the directory holds nothing but complete
/// `part-NNNNN.parquet` files numbered 1..=N without gaps, and returns N.
fn check_part_files(out: &Path, sweep: &str, kind: &str) -> usize {
    let dir = out.join(sweep).join(kind);
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let number = name.strip_prefix("part-").and_then(|n| n.strip_suffix(".parquet")).and_then(|n| n.parse::<usize>().ok());
        numbers.push(number.unwrap_or_else(|| panic!("{}: unexpected file {name} (temporary or partial)", dir.display())));
    }
    numbers.sort();
    assert_eq!(numbers, (1..=numbers.len()).collect::<Vec<_>>(), "{}: parts numbered without gaps", dir.display());
    numbers.len()
}

/// True when a Parquet write is in progress (its hidden temporary file exists).
fn writing_parquet(out: &Path, sweep: &str) -> bool {
    ["trials", "epochs"].iter().any(|kind| {
        std::fs::read_dir(out.join(sweep).join(kind))
            .map(|dir| dir.filter_map(Result::ok).any(|e| e.file_name().to_string_lossy().contains(".tmp-")))
            .unwrap_or(false)
    })
}

/// 1. Workers SIGKILLed at random while 120 trials run; a new worker replaces each.
#[test]
fn workers_killed_at_random_lose_and_double_nothing() {
    let mut chaos = Chaos::new("workers_killed_at_random");
    let scratch = Scratch::new();
    let port = free_port();
    let trials = 120;
    let sweep = scratch.write("s.toml", &moons_sweep("chaos-w", &[0.02, 0.05, 0.1, 0.2, 0.4], 24, 1000, 200));
    // A TTL well above the heartbeat interval, so only the kills (not a slow heartbeat on a
    // loaded CI machine) cause re-executions.
    let _coordinator = start_coordinator(&scratch, port, 3.0);
    submit(port, &sweep);
    let mut logs: Vec<PathBuf> = Vec::new();
    let mut workers: Vec<Proc> = Vec::new();
    let spawn = |logs: &mut Vec<PathBuf>| {
        let log = scratch.path(&format!("exec-{}.log", logs.len()));
        let worker = start_worker(port, &log);
        logs.push(log);
        worker
    };
    for _ in 0..3 {
        let worker = spawn(&mut logs);
        workers.push(worker);
    }
    let started = Instant::now();
    let mut kills = 0;
    let mut kills_mid_trial = 0;
    loop {
        std::thread::sleep(chaos.millis(700, 2000));
        let status = sweep_status(port, "chaos-w").expect("the coordinator answers");
        if status["finished"] == true {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "the sweep did not finish: {status}");
        let victim = chaos.below(workers.len());
        let busy_before = std::fs::metadata(&logs[logs.len() - workers.len() + victim]).map(|m| m.len()).unwrap_or(0);
        workers.remove(victim).kill9();
        kills += 1;
        kills_mid_trial += usize::from(busy_before > 0);
        let worker = spawn(&mut logs);
        workers.push(worker);
    }
    wait_finished(port, "chaos-w", Duration::from_secs(60));
    let log_refs: Vec<&Path> = logs.iter().map(|p| p.as_path()).collect();
    let executions = executions(&log_refs).len();
    eprintln!("chaos 1: {trials} trials, {kills} workers SIGKILLed ({kills_mid_trial} of them after taking trials), {executions} attempts executed");
    assert!(kills >= 5, "the sweep finished before enough faults were injected ({kills} kills)");
    check_exactly_once(&scratch.out(), "chaos-w", trials);
    // Every execution beyond the first of a trial is explained by a kill.
    assert!(executions <= trials + kills, "{executions} executions for {trials} trials and {kills} kills");
    check_part_files(&scratch.out(), "chaos-w", "trials");
    check_part_files(&scratch.out(), "chaos-w", "epochs");
}

/// 2. The coordinator SIGKILLed 5 times, 3 of them while a Parquet part is being written
///    (writes are slowed to 250 ms by the fault-injection hook), and restarted each time.
#[test]
fn a_coordinator_killed_five_times_loses_and_reruns_nothing() {
    let mut chaos = Chaos::new("coordinator_killed_five_times");
    let scratch = Scratch::new();
    let port = free_port();
    let trials = 100;
    let sweep = scratch.write("s.toml", &moons_sweep("chaos-c", &[0.02, 0.05, 0.1, 0.2, 0.4], 20, 1000, 200));
    let slow_writes = [("HYPERPLANE_FAULT_PARQUET_DELAY_MS", "250")];
    let mut coordinator = start_coordinator_with(&scratch, port, 4.0, &slow_writes);
    submit(port, &sweep);
    let logs: Vec<PathBuf> = (0..2).map(|k| scratch.path(&format!("exec-{k}.log"))).collect();
    let _workers: Vec<Proc> = logs.iter().map(|log| start_worker(port, log)).collect();
    let mut during_write = 0;
    let mut completed_at_kill = Vec::new();
    for kill in 0..5 {
        if kill % 2 == 0 {
            // Wait for a write in progress, then kill inside it.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !writing_parquet(&scratch.out(), "chaos-c") {
                assert!(Instant::now() < deadline, "no Parquet write was seen within 30 s");
                std::thread::sleep(Duration::from_millis(5));
            }
            during_write += 1;
        } else {
            std::thread::sleep(chaos.millis(300, 2000));
        }
        completed_at_kill.push(sweep_status(port, "chaos-c").map(|s| s["completed"].as_u64().unwrap()).unwrap_or(0));
        coordinator.kill9();
        std::thread::sleep(chaos.millis(200, 1500));
        coordinator = start_coordinator_with(&scratch, port, 4.0, &slow_writes);
        // What was acknowledged before the kill is still there after the restart.
        let after = sweep_status(port, "chaos-c").expect("the restarted coordinator answers");
        assert!(after["completed"].as_u64().unwrap() >= *completed_at_kill.last().unwrap(), "{after}");
    }
    eprintln!("chaos 2: {trials} trials, 5 coordinator SIGKILLs ({during_write} during a Parquet write), completed at each kill: {completed_at_kill:?}");
    assert!(*completed_at_kill.last().unwrap() < trials as u64, "the kills all happened before the sweep finished");
    wait_finished(port, "chaos-c", Duration::from_secs(120));
    let per_trial = check_exactly_once(&scratch.out(), "chaos-c", trials);
    let counts = execution_counts(&logs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(counts.len(), trials);
    let reruns: BTreeMap<&String, &usize> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(reruns.is_empty(), "no trial executed twice: {reruns:?}");
    check_part_files(&scratch.out(), "chaos-c", "trials");
    check_part_files(&scratch.out(), "chaos-c", "epochs");
    check_with_python(&scratch.out(), "chaos-c", trials, trials * per_trial);
    drop(coordinator);
}

/// 3. A worker frozen with SIGSTOP past its lease TTL, then resumed with SIGCONT: its late
///    rows and completion are refused, and the trial's rows come from the new attempt.
#[test]
fn a_frozen_workers_late_results_are_refused() {
    let scratch = Scratch::new();
    let port = free_port();
    // One long trial (≈ 2 s in a debug build) with many evaluations, so rows flow early.
    let sweep = scratch.write("s.toml", &moons_sweep("chaos-s", &[0.1], 1, 8000, 800));
    let _coordinator = start_coordinator(&scratch, port, 1.0);
    submit(port, &sweep);
    let (log_a, log_b) = (scratch.path("a.log"), scratch.path("b.log"));
    let stderr_a = scratch.path("a.stderr");
    let frozen = start_worker_logged(port, &log_a, &stderr_a, &["--batch-ms", "20"]);
    let start = Instant::now();
    while executions(&[&log_a]).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "the worker never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(400)); // some rows reach the coordinator
    frozen.signal("STOP");
    wait_for(port, "chaos-s", Duration::from_secs(20), "the frozen lease to expire", |s| {
        s["pending"] == 1 && s["leased"] == 0
    });
    let _rescuer = start_worker(port, &log_b);
    wait_finished(port, "chaos-s", Duration::from_secs(60));
    frozen.signal("CONT");
    // The resumed worker learns its lease is gone (heartbeat or refused upload) and drops the attempt.
    std::thread::sleep(Duration::from_millis(2500));
    frozen.signal("TERM");
    assert!(frozen.wait_exit(Duration::from_secs(20)).success());
    let said = std::fs::read_to_string(&stderr_a).unwrap();
    assert!(said.contains("0 completed, 0 failed, 1 lost"), "the frozen worker's attempt was refused: {said}");
    check_exactly_once(&scratch.out(), "chaos-s", 1);
    let trials = read_parts(&scratch.out(), "chaos-s", "trials");
    let (_, attempt) = trial_attempts(&trials).remove(0);
    assert_eq!(attempt, 2, "the trial's rows are the rescuer's attempt");
    let epochs = trial_attempts(&read_parts(&scratch.out(), "chaos-s", "epochs"));
    assert!(epochs.iter().all(|(_, a)| *a == 2), "no row of the frozen attempt reached the output");
    eprintln!("chaos 3: 1 trial, worker frozen past a 1 s TTL then resumed; its attempt refused, {} rows from attempt 2", epochs.len());
}

/// 4. The output directory becomes unusable while trials finish: the coordinator reports it
///    in `status`, keeps the results in SQLite, and writes them once the directory is back.
///    (It is replaced by a regular file: CI runs as root, where `chmod` does not stop writes.)
#[test]
fn an_unwritable_output_directory_delays_parquet_but_loses_nothing() {
    let scratch = Scratch::new();
    let port = free_port();
    let trials = 24;
    let sweep = scratch.write("s.toml", &moons_sweep("chaos-o", &[0.05, 0.1, 0.2], 8, 1000, 200));
    let _coordinator = start_coordinator(&scratch, port, 3.0);
    submit(port, &sweep);
    let log = scratch.path("exec.log");
    let worker = start_worker(port, &log);
    wait_for(port, "chaos-o", Duration::from_secs(60), "the first part", |s| s["exported"].as_u64().unwrap() > 0);
    let dir = scratch.out().join("chaos-o");
    let aside = scratch.out().join("chaos-o.aside");
    std::fs::rename(&dir, &aside).unwrap();
    std::fs::write(&dir, "not a directory").unwrap();
    let exported_when_broken = sweep_status(port, "chaos-o").unwrap()["exported"].as_u64().unwrap();
    wait_for(port, "chaos-o", Duration::from_secs(90), "every trial completed", |s| s["finished"] == true);
    let url = format!("http://127.0.0.1:{port}");
    let json: serde_json::Value =
        serde_json::from_slice(&hyperplane(&["status", "--coordinator", &url, "--json"], None).stdout).unwrap();
    let error = json["output_error"].as_str().unwrap_or_default().to_string();
    assert!(!error.is_empty(), "status reports the failing output: {json}");
    let s = &json["sweeps"][0];
    assert_eq!(s["completed"], trials, "every result is held in SQLite: {s}");
    assert!(s["exported"].as_u64().unwrap() < trials as u64, "nothing could be written meanwhile: {s}");
    let table = String::from_utf8_lossy(&hyperplane(&["status", "--coordinator", &url], None).stdout).to_string();
    assert!(table.contains("writing Parquet is failing"), "{table}");
    // Repair: the next flush writes everything that was held back.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&aside, &dir).unwrap();
    wait_finished(port, "chaos-o", Duration::from_secs(30));
    let json: serde_json::Value =
        serde_json::from_slice(&hyperplane(&["status", "--coordinator", &url, "--json"], None).stdout).unwrap();
    assert!(json["output_error"].is_null(), "the error clears once writing works: {json}");
    check_exactly_once(&scratch.out(), "chaos-o", trials);
    check_part_files(&scratch.out(), "chaos-o", "trials");
    eprintln!(
        "chaos 4: {trials} trials; output replaced by a file after {exported_when_broken} were exported; \
         reported as `{error}`; all {trials} written after repair"
    );
    drop(worker);
}

/// 6. The coordinator loses its state directory (e.g. a pod restarted on an empty volume):
///    its workers register again and run the next sweep, instead of retrying forever.
#[test]
fn workers_register_again_with_a_coordinator_that_lost_its_state() {
    let scratch = Scratch::new();
    let port = free_port();
    let coordinator = start_coordinator(&scratch, port, 3.0);
    let log = scratch.path("exec.log");
    let _worker = start_worker(port, &log);
    std::thread::sleep(Duration::from_millis(800)); // registered, polling for leases
    coordinator.kill9();
    std::fs::remove_dir_all(scratch.state()).unwrap();
    let _fresh = start_coordinator(&scratch, port, 3.0);
    submit(port, &scratch.write("s.toml", &moons_sweep("after-wipe", &[0.1], 3, 3, 100)));
    wait_finished(port, "after-wipe", Duration::from_secs(30));
    check_exactly_once(&scratch.out(), "after-wipe", 3);
    assert_eq!(executions(&[&log]).len(), 3, "the same worker process ran the new sweep");
}
