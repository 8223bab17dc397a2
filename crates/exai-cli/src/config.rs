//! `exai config <editor>`: the connect page's snippets, from the terminal.

use crate::{ConfigArgs, ExitCode};
use exai_hub::connect;

pub(crate) fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let (shim, found) = match args.shim {
        Some(path) => {
            let found = path.is_file();
            (std::path::absolute(&path).unwrap_or(path), found)
        }
        None => connect::find_shim(),
    };
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
    if !found {
        note(&format!(
            "note: {} does not exist yet: install EXAI, build it (scripts/run.sh) or pass --shim PATH",
            info.shim_path
        ));
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
