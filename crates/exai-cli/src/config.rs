//! `exai config <editor>`: the connect page's snippets, from the terminal; with `--wrap FILE`
//! (or `--unwrap FILE`), that editor's file with its stdio servers rewritten to run through
//! exai-shim, ready to paste.

use crate::{ConfigArgs, ExitCode};
use anyhow::Context as _;
use exai_hub::connect::{self, Connector, Direction, Editor, Env, wrap};
use std::io::Read as _;
use std::path::Path;

pub(crate) fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let (shim, found) = match args.shim.clone() {
        Some(path) => {
            let found = path.is_file();
            (std::path::absolute(&path).unwrap_or(path), found)
        }
        None => connect::find_shim(),
    };
    if !found {
        note(&format!(
            "note: {} does not exist yet: install EXAI, build it (scripts/run.sh) or pass --shim PATH",
            shim.display()
        ));
    }
    match (&args.wrap, &args.unwrap) {
        (Some(file), _) => return rewrite(&args, &shim, file, Direction::Wrap),
        (_, Some(file)) => return rewrite(&args, &shim, file, Direction::Unwrap),
        _ => {}
    }
    let info = connect::connect_info(&shim, found, args.endpoint.as_deref());
    let wanted: Vec<_> = info
        .snippets
        .iter()
        .filter(|snippet| args.editor == "all" || snippet.editor == args.editor)
        .collect();
    if wanted.is_empty() {
        anyhow::bail!(
            "unknown editor {:?}: use one of {}, or all",
            args.editor,
            connect::EDITORS.join(", ")
        );
    }
    if let [snippet] = wanted.as_slice() {
        note(&format!(
            "# {}: put this in {}",
            snippet.title, snippet.target
        ));
        out(&snippet.content);
    } else {
        for snippet in wanted {
            out(&format!(
                "## {} ({})\n# put this in {}\n{}\n",
                snippet.title, snippet.editor, snippet.target, snippet.content
            ));
        }
    }
    Ok(ExitCode::Ok)
}

/// `--wrap FILE` / `--unwrap FILE`: the file rewritten on stdout, exactly as it should be
/// pasted (or saved); what happened to each server on stderr, without env values.
fn rewrite(
    args: &ConfigArgs,
    shim: &Path,
    file: &Path,
    direction: Direction,
) -> anyhow::Result<ExitCode> {
    let editor = Editor::from_key(&args.editor).ok_or_else(|| {
        anyhow::anyhow!(
            "--wrap needs the editor whose file it is, not {:?}: use one of {}",
            args.editor,
            Editor::ALL.map(Editor::key).join(", ")
        )
    })?;
    let (name, text) = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        ("standard input".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        (file.display().to_string(), text)
    };
    let connector = Connector {
        env: Env::from_process()?,
        shim: shim.to_path_buf(),
        endpoint: args.endpoint.clone(),
    };
    let plan = wrap::plan(
        &text,
        editor.format(),
        direction,
        &connector.wrap_options(editor),
    )
    .map_err(|err| anyhow::anyhow!("{name} is not a valid {} config: {err}", editor.title()))?;
    let verb = match direction {
        Direction::Wrap => "wrapped",
        Direction::Unwrap => "unwrapped",
    };
    note(&format!(
        "# {name} with {} of its {} servers {verb}:",
        plan.n_changed(),
        plan.servers.len()
    ));
    if !plan.servers.is_empty() {
        note(&crate::connect::listing(&plan.servers));
    }
    out_raw(&plan.text);
    Ok(ExitCode::Ok)
}

#[allow(
    clippy::print_stdout,
    reason = "the command's output: the rewritten file, as it was"
)]
fn out_raw(text: &str) {
    print!("{text}");
}

#[allow(clippy::print_stdout, reason = "the command's output: the snippet")]
fn out(text: &str) {
    println!("{text}");
}

#[allow(
    clippy::print_stderr,
    reason = "where to paste it, kept out of the snippet itself"
)]
fn note(text: &str) {
    eprintln!("{text}");
}
