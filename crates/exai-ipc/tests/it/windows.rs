//! Windows only: the pipe's security descriptor, checked as data.

#[test]
fn the_pipe_admits_only_this_user_and_system() {
    let sddl = match exai_ipc::pipe_sddl() {
        Ok(sddl) => sddl,
        Err(err) => panic!("cannot build the SDDL: {err}"),
    };
    assert!(sddl.starts_with("D:P(A;;GA;;;S-1-"), "{sddl}");
    assert!(sddl.ends_with(")(A;;GA;;;SY)"), "{sddl}");
    assert_eq!(
        sddl.matches("(A;").count(),
        2,
        "exactly two allow entries: {sddl}"
    );
}

#[test]
fn a_bare_name_becomes_a_pipe_named_after_this_user() {
    let endpoint = match exai_ipc::Endpoint::named("exai-user-check") {
        Ok(endpoint) => endpoint,
        Err(err) => panic!("cannot resolve: {err}"),
    };
    let user: String = std::env::var("USERNAME")
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    assert!(
        !user.is_empty(),
        "USERNAME is set on Windows and under Wine"
    );
    assert_eq!(
        endpoint.to_string(),
        format!(r"\\.\pipe\exai-user-check-{user}")
    );
}
