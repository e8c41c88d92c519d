//! End-to-end tests of the distributed engine: real coordinator and worker processes on
//! loopback, real trials (2-16-2 MLPs on the 2-D moons data), real Parquet output.

use std::time::{Duration, Instant};

use crate::engine_harness::*;

/// Lease TTL for the tests: short, so a killed worker's trial is re-queued quickly.
const TTL: f64 = 2.0;

#[test]
fn three_workers_run_every_trial_exactly_once() {
    let scratch = Scratch::new();
    let port = free_port();
    let sweep = scratch.write("s.toml", &moons_sweep("three", &[0.05, 0.1, 0.2, 0.4], 12, 3, 200));
    let _coordinator = start_coordinator(&scratch, port, TTL);
    submit(port, &sweep);
    let logs: Vec<_> = (0..3).map(|k| scratch.path(&format!("exec-{k}.log"))).collect();
    let workers: Vec<_> = logs.iter().map(|log| start_worker(port, log)).collect();
    wait_finished(port, "three", Duration::from_secs(90));
    let per_trial = check_exactly_once(&scratch.out(), "three", 48);
    let counts = execution_counts(&logs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(counts.len(), 48);
    assert!(counts.values().all(|&n| n == 1), "no trial ran twice: {counts:?}");
    let busy = logs.iter().filter(|log| std::fs::metadata(log).is_ok_and(|m| m.len() > 0)).count();
    assert_eq!(busy, 3, "all three workers took trials");
    // SIGTERM: a worker exits cleanly (nothing to release now).
    for worker in workers {
        worker.signal("TERM");
        assert!(worker.wait_exit(Duration::from_secs(15)).success());
    }
    check_with_python(&scratch.out(), "three", 48, 48 * per_trial);
}

#[test]
fn a_killed_workers_trial_reruns_on_another_worker() {
    let scratch = Scratch::new();
    let port = free_port();
    // Longer trials, so the kill lands mid-trial.
    let sweep = scratch.write("s.toml", &moons_sweep("killw", &[0.05, 0.1], 3, 6000, 800));
    let _coordinator = start_coordinator(&scratch, port, TTL);
    submit(port, &sweep);
    let (log_a, log_b) = (scratch.path("a.log"), scratch.path("b.log"));
    let victim = start_worker(port, &log_a);
    // Kill the victim as soon as it started a trial.
    let start = Instant::now();
    while executions(&[&log_a]).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "the worker never started a trial");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (killed_trial, _) = executions(&[&log_a]).remove(0);
    victim.kill9();
    // A worker that gets SIGTERM (Slurm preemption) hands its lease back and exits cleanly.
    let log_c = scratch.path("c.log");
    let stderr_c = scratch.path("c.stderr");
    let preempted = start_worker_logged(port, &log_c, &stderr_c, &[]);
    let start = Instant::now();
    while executions(&[&log_c]).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "the second worker never started a trial");
        std::thread::sleep(Duration::from_millis(20));
    }
    preempted.signal("TERM");
    assert!(preempted.wait_exit(Duration::from_secs(15)).success());
    let said = std::fs::read_to_string(&stderr_c).unwrap();
    assert!(said.contains("1 released"), "the preempted worker released its lease: {said}");
    let _survivor = start_worker(port, &log_b);
    wait_finished(port, "killw", Duration::from_secs(120));
    check_exactly_once(&scratch.out(), "killw", 6);
    let reruns: Vec<_> = executions(&[&log_b]).into_iter().filter(|(t, _)| *t == killed_trial).collect();
    assert_eq!(reruns.len(), 1, "the killed trial ran once more, on the survivor");
    assert!(reruns[0].1 >= 2, "the rerun is a new attempt");
    let trials = read_parts(&scratch.out(), "killw", "trials");
    let attempts = trial_attempts(&trials);
    let final_attempt = attempts.iter().find(|(t, _)| *t == killed_trial).unwrap().1;
    assert_eq!(final_attempt as u32, reruns[0].1, "the trials row is the survivor's attempt");
}

#[test]
fn a_killed_coordinator_restarts_and_finishes_without_rerunning_completed_trials() {
    let scratch = Scratch::new();
    let port = free_port();
    let sweep = scratch.write("s.toml", &moons_sweep("killc", &[0.05, 0.1, 0.2, 0.4], 10, 1000, 200));
    let coordinator = start_coordinator(&scratch, port, TTL);
    submit(port, &sweep);
    let logs: Vec<_> = (0..2).map(|k| scratch.path(&format!("exec-{k}.log"))).collect();
    let _workers: Vec<_> = logs.iter().map(|log| start_worker(port, log)).collect();
    wait_for(port, "killc", Duration::from_secs(60), "a third of the trials", |s| {
        s["completed"].as_u64().unwrap_or(0) >= 13
    });
    coordinator.kill9();
    // Workers keep training and retry while the coordinator is away.
    std::thread::sleep(Duration::from_millis(1500));
    let _coordinator = start_coordinator(&scratch, port, TTL);
    wait_finished(port, "killc", Duration::from_secs(120));
    let per_trial = check_exactly_once(&scratch.out(), "killc", 40);
    let counts = execution_counts(&logs.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(counts.len(), 40);
    assert!(counts.values().all(|&n| n == 1), "no trial executed twice: {counts:?}");
    let epochs: usize = read_parts(&scratch.out(), "killc", "epochs").iter().map(|df| df.height()).sum();
    assert_eq!(epochs, 40 * per_trial);
}

#[test]
fn an_extended_grid_runs_only_the_new_trials_and_a_changed_spec_is_refused() {
    let scratch = Scratch::new();
    let log = scratch.path("exec.log");
    let run = |file: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["run", file.to_str().unwrap(), "--workers", "2"];
        let (state, out) = (scratch.state(), scratch.out());
        args.extend(["--state", state.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        args.extend(extra);
        hyperplane(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>().iter().map(|s| s.as_str()).collect::<Vec<_>>(), Some(&log))
    };
    let small = scratch.write("small.toml", &moons_sweep("grow", &[0.05, 0.1], 3, 3, 200));
    let first = run(&small, &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(executions(&[&log]).len(), 6);
    // The same command again resumes a finished sweep: nothing runs.
    let again = run(&small, &[]);
    assert!(again.status.success());
    assert_eq!(executions(&[&log]).len(), 6);
    let grown = scratch.write("grown.toml", &moons_sweep("grow", &[0.05, 0.1, 0.2], 3, 3, 200));
    let second = run(&grown, &[]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stdout).contains("3 of them new"));
    let counts = execution_counts(&[&log]);
    assert_eq!(counts.len(), 9);
    assert!(counts.values().all(|&n| n == 1), "old trials did not run again: {counts:?}");
    check_exactly_once(&scratch.out(), "grow", 9);
    // A changed spec (more epochs) under the same name is refused with a pointer to --new-sweep...
    let changed = scratch.write("changed.toml", &moons_sweep("grow", &[0.05], 1, 4, 200));
    let refused = run(&changed, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--new-sweep"));
    // ...and accepted under a new name.
    let renamed = run(&changed, &["--new-sweep", "grow-4"]);
    assert!(renamed.status.success(), "{}", String::from_utf8_lossy(&renamed.stderr));
    check_exactly_once(&scratch.out(), "grow-4", 1);
}

#[test]
fn a_second_coordinator_on_the_same_state_directory_refuses_to_start() {
    let scratch = Scratch::new();
    let port = free_port();
    let first = start_coordinator(&scratch, port, TTL);
    let second_port = free_port();
    let out = hyperplane(
        &[
            "coordinator",
            "--listen",
            &format!("127.0.0.1:{second_port}"),
            "--state",
            scratch.state().to_str().unwrap(),
            "--out",
            scratch.out().to_str().unwrap(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the second coordinator must exit with an error:\n{err}");
    assert!(err.contains(scratch.state().to_str().unwrap()), "the message must name the state directory:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The first one is unaffected and still owns the directory.
    let status = hyperplane(&["status", "--coordinator", &format!("http://127.0.0.1:{port}"), "--json"], None);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    first.kill9();
}
