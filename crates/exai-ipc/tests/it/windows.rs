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
