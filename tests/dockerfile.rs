//! Static checks of the Dockerfile and .dockerignore (no container engine runs in the test suite).

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Instructions of the Dockerfile: (KEYWORD, arguments), continuation lines joined, comments dropped.
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((current.as_str(), ""));
        out.push((keyword.to_uppercase(), args.trim().to_string()));
        current.clear();
    }
    out
}

/// The instructions of the last stage.
fn final_stage(all: &[(String, String)]) -> &[(String, String)] {
    let start = all.iter().rposition(|(k, _)| k == "FROM").expect("a FROM");
    &all[start..]
}

#[test]
fn is_multi_stage_with_pinned_bases() {
    let all = instructions();
    let froms: Vec<&String> = all
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert!(froms.len() >= 2, "multi-stage build expected: {froms:?}");
    for from in &froms {
        let image = from.split_whitespace().next().unwrap();
        let (name, digest) = image.split_once('@').unwrap_or((image, ""));
        let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "{image}: pin a specific tag"
        );
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "{image}: pin the digest too"
        );
    }
    let last = final_stage(&all)[0].1.clone();
    assert!(
        last.contains("distroless") || last.starts_with("scratch"),
        "small final image expected: {last}"
    );
}

#[test]
fn final_stage_runs_as_numeric_non_root_user() {
    let all = instructions();
    let users: Vec<&String> = final_stage(&all)
        .iter()
        .filter(|(k, _)| k == "USER")
        .map(|(_, a)| a)
        .collect();
    let user = users.last().expect("USER in the final stage");
    for part in user.split(':') {
        let id: u32 = part.parse().unwrap_or_else(|_| {
            panic!("USER {user}: numeric ids, so runAsNonRoot can verify them")
        });
        assert_ne!(id, 0, "USER {user} is root");
    }
}

#[test]
fn exposes_9820_and_entrypoint_is_the_copied_binary() {
    let all = instructions();
    let last = final_stage(&all);
    assert!(last.iter().any(
        |(k, a)| k == "EXPOSE" && a.split_whitespace().any(|p| p == "9820" || p == "9820/tcp")
    ));
    let entrypoint = last
        .iter()
        .rfind(|(k, _)| k == "ENTRYPOINT")
        .expect("ENTRYPOINT")
        .1
        .clone();
    let entry: Vec<String> =
        serde_json::from_str(&entrypoint).expect("ENTRYPOINT in exec (JSON) form");
    assert_eq!(entry[0], "/sidecar-exporter");
    let copies: Vec<&String> = last
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, a)| a)
        .collect();
    assert!(
        copies.iter().any(
            |c| c.contains("--from=") && c.split_whitespace().last() == Some(entry[0].as_str())
        ),
        "ENTRYPOINT {} is not where the binary is copied to: {copies:?}",
        entry[0]
    );
    assert!(
        last.iter()
            .any(|(k, a)| k == "LABEL" && a.contains("org.opencontainers.image.source")),
        "OCI labels"
    );
}

#[test]
fn discovers_by_default_and_a_given_config_replaces_that() {
    let all = instructions();
    let last = final_stage(&all);
    let cmd = last
        .iter()
        .rfind(|(k, _)| k == "CMD")
        .map(|(_, v)| v.clone())
        .expect("CMD");
    let cmd: Vec<String> = serde_json::from_str(&cmd).expect("CMD in exec (JSON) form");
    // In CMD, not ENTRYPOINT: `docker run IMAGE --config.file x` replaces it.
    assert_eq!(cmd, ["serve", "--discover"]);
    let entrypoint = last
        .iter()
        .rfind(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, v)| v.clone())
        .expect("ENTRYPOINT");
    assert!(!entrypoint.contains("discover"), "{entrypoint}");
}

#[test]
fn builder_caches_dependencies_before_copying_sources() {
    let all = instructions();
    let copy_manifest = all
        .iter()
        .position(|(k, a)| k == "COPY" && a.contains("Cargo.lock"))
        .expect("COPY Cargo.lock");
    let copy_src = all
        .iter()
        .position(|(k, a)| k == "COPY" && a.starts_with("src"))
        .expect("COPY src");
    let dep_build = all
        .iter()
        .position(|(k, a)| k == "RUN" && a.contains("cargo build"))
        .expect("cargo build");
    assert!(
        copy_manifest < dep_build && dep_build < copy_src,
        "dependencies must build before the sources are copied"
    );
}

#[test]
fn no_secrets_in_env_or_arg() {
    for (keyword, args) in instructions() {
        if keyword != "ENV" && keyword != "ARG" {
            continue;
        }
        let upper = args.to_uppercase();
        for word in [
            "PASSWORD",
            "PASSWD",
            "SECRET",
            "TOKEN",
            "API_KEY",
            "APIKEY",
            "PRIVATE_KEY",
            "CREDENTIAL",
            "AWS_",
        ] {
            assert!(
                !upper.contains(word),
                "{keyword} {args}: secrets do not belong in an image"
            );
        }
    }
}

#[test]
fn dockerignore_keeps_target_and_git_out() {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).expect(".dockerignore");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for wanted in ["target", ".git"] {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_end_matches('/').trim_start_matches('/') == wanted),
            ".dockerignore must exclude {wanted}/"
        );
    }
}
