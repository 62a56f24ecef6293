//! CI runs what the README tells people to run: `.ci/run` holds the
//! README's test command line for line, and that command builds every
//! test target (the Kubernetes tier needs the `kubernetes` feature, which
//! a plain `cargo test` leaves off).

use crate::support::harness::repo;

/// The README's test command: the one `cargo test` line of its `sh`
/// blocks.
fn readme_test_command() -> String {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md");
    let mut in_sh = false;
    let mut found = Vec::new();
    for line in readme.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            command if in_sh && command.starts_with("cargo test") => found.push(command.to_owned()),
            _ => {}
        }
    }
    let [command] = &found[..] else {
        panic!("README.md should show one test command in a sh block, found {found:?}");
    };
    command.clone()
}

#[test]
fn ci_runs_the_readme_test_command() {
    let command = readme_test_command();
    let ci = std::fs::read_to_string(repo(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == command),
        ".ci/run does not run the README's test command `{command}`"
    );
}

#[test]
fn the_readme_test_command_builds_every_test_target() {
    let command = readme_test_command();
    let manifest = std::fs::read_to_string(repo("Cargo.toml")).expect("Cargo.toml");
    // `required-features = ["a", "b"]` of the [[test]] targets.
    let required: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.trim().strip_prefix("required-features"))
        .flat_map(|list| list.split('"').skip(1).step_by(2))
        .collect();
    assert!(
        required.contains(&"kubernetes"),
        "tests/k8s_sync needs the kubernetes feature: {required:?}"
    );
    for feature in required {
        assert!(
            command.contains(&format!("--features {feature}"))
                || command.contains("--all-features"),
            "`{command}` does not build the test targets that need --features {feature}"
        );
    }
}
