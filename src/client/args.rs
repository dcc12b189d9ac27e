//! The producer commands' flags (DESIGN, "Command-line contract": the names are fixed there;
//! change them only by adding).
//!
//! Every document id is taken with `allow_hyphen_values`: a docId is base64url, so about one
//! in 64 begins with `-`, and `sealpost links -AbC…` must mean that document.

use std::path::PathBuf;

use clap::Args;

/// How a producer command reaches and authenticates to a Sealpost API server.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The API server's URL
    #[arg(
        long,
        value_name = "URL",
        env = "SEALPOST_API",
        default_value = "http://127.0.0.1:8080"
    )]
    pub api: String,
    /// The producer's private key (PEM): the command logs in with a short-lived signed
    /// assertion, so the key never leaves this machine. Without it, the API key in the
    /// environment variable SEALPOST_API_KEY is sent instead.
    #[arg(id = "credential_key", long = "key", value_name = "FILE")]
    pub credential_key: Option<PathBuf>,
    /// The producer the key belongs to [default: NAME of a key file named producer-NAME.pem,
    /// else "default"]
    #[arg(long, value_name = "NAME", env = "SEALPOST_PRODUCER")]
    pub producer: Option<String>,
    /// Print exactly one JSON object on stdout (the result, the server's problem+json, or
    /// {"error": …})
    #[arg(long)]
    pub json: bool,
}

/// `sealpost upload`.
#[derive(Debug, Args)]
pub struct Upload {
    /// The file to upload (streamed: never held in memory whole)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The document's name [default: the file's name; "top-secret" with --top-secret, whose
    /// real name travels encrypted]
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// The media type [default: from the file's extension, else application/octet-stream]
    #[arg(long, value_name = "TYPE")]
    pub media_type: Option<String>,
    /// The audience, from a CSV file with a header row: one record per row, each column a field
    #[arg(long, value_name = "FILE.csv", requires = "token_fields")]
    pub audience: Option<PathBuf>,
    /// The columns that form each record's viewer token (the audience's viewerToken {?F,…})
    #[arg(long, value_name = "F,…", value_delimiter = ',', requires = "audience")]
    pub token_fields: Vec<String>,
    /// The challenge object: JSON text, or @FILE for a file holding it
    #[arg(long, value_name = "JSON")]
    pub challenge: Option<String>,
    /// The fulfillment object: JSON text, or @FILE
    #[arg(long, value_name = "JSON")]
    pub fulfillment: Option<String>,
    /// The landing page object: JSON text, or @FILE
    #[arg(long, value_name = "JSON")]
    pub landingpage: Option<String>,
    /// The metadata object: JSON text, or @FILE
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
    /// When the document expires: RFC 3339, an HTTP-date, or YYYY-MM-DD (midnight UTC)
    /// [default: the server's, one year ahead]
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    /// Encrypt the file here (sealpost-e2e-v1) before it leaves: only the viewers' browsers
    /// decrypt it. With a random key unless --passphrase-file is given; the links printed
    /// carry the key in their #k= fragment, which browsers never send to a server
    #[arg(long)]
    pub top_secret: bool,
    /// Derive the top-secret key from the passphrase in this file (its first line), shared
    /// with the viewers out of band
    #[arg(long, value_name = "F", requires = "top_secret")]
    pub passphrase_file: Option<PathBuf>,
    /// Also write the random top-secret key (k=…) to this file (mode 0600), for
    /// `sealpost links DOC --key-file F` later
    #[arg(
        long,
        value_name = "F",
        requires = "top_secret",
        conflicts_with = "passphrase_file"
    )]
    pub save_key: Option<PathBuf>,
    #[command(flatten)]
    pub remote: Remote,
}

/// `sealpost links`.
#[derive(Debug, Args)]
pub struct Links {
    /// The document's id
    #[arg(value_name = "DOC", allow_hyphen_values = true)]
    pub doc: String,
    /// CSV on stdout: the audience record's fields, then `link`
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// A top-secret document's key file (from `upload --save-key`): appended to each link as
    /// its #k= fragment
    #[arg(long, value_name = "F")]
    pub key_file: Option<PathBuf>,
    #[command(flatten)]
    pub remote: Remote,
}

/// `sealpost deliver`.
#[derive(Debug, Args)]
pub struct Deliver {
    /// The document's id
    #[arg(value_name = "DOC", allow_hyphen_values = true)]
    pub doc: String,
    /// A form field for the fulfillment's templates (repeatable), e.g. --field smtp_url=smtp://…
    #[arg(long = "field", value_name = "NAME=VALUE")]
    pub fields: Vec<String>,
    /// Wait until every recipient is sent or failed (progress on a terminal); exits 1 when
    /// any failed
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub remote: Remote,
}

/// `sealpost logs get`.
#[derive(Debug, Args)]
pub struct LogsGet {
    /// Only this document's records [default: every document of the producer]
    #[arg(value_name = "DOC", allow_hyphen_values = true)]
    pub doc: Option<String>,
    /// The first day (YYYY-MM-DD) or an RFC 3339 time
    #[arg(long, value_name = "D")]
    pub from: Option<String>,
    /// The last day (YYYY-MM-DD) or an RFC 3339 time
    #[arg(long, value_name = "D")]
    pub to: Option<String>,
    /// Where to keep the zip; written only once it verified
    #[arg(short = 'o', long = "output", value_name = "FILE.zip")]
    pub output: PathBuf,
    /// The instance's public keys to verify with: a URL or a saved copy of
    /// GET /.well-known/sealpost-keys [default: the --api server's]
    #[arg(long, value_name = "URL-or-FILE")]
    pub keys: Option<String>,
    #[command(flatten)]
    pub remote: Remote,
}

/// `sealpost get`.
#[derive(Debug, Args)]
pub struct Get {
    /// The vault's handle URL ({vault}/h/{handle}); a #k=… fragment on it is the key
    #[arg(value_name = "HANDLE-URL")]
    pub url: String,
    /// Where to write the document; written only once it is whole (and decrypted, verified)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// A top-secret document's key: k=…, the bare key, a link ending in #k=…, or @FILE
    #[arg(long, value_name = "K", conflicts_with = "passphrase_file")]
    pub key: Option<String>,
    /// A top-secret document's passphrase, in this file (its first line)
    #[arg(long, value_name = "F")]
    pub passphrase_file: Option<PathBuf>,
    /// Print one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::{CommandFactory as _, Parser as _};

    use crate::cli::{Cli, Command, LogsCommand};

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_doc_id_beginning_with_a_hyphen_is_a_plain_argument() {
        let id = "-oAbCdEfGhIjKlMnOpQrStU";
        let cli = Cli::parse_from(["sealpost", "links", id, "--csv"]);
        assert!(matches!(cli.command, Command::Links(ref a) if a.doc == id && a.csv));
        let cli = Cli::parse_from(["sealpost", "deliver", id, "--wait"]);
        assert!(matches!(cli.command, Command::Deliver(ref a) if a.doc == id && a.wait));
        let cli = Cli::parse_from(["sealpost", "logs", "get", id, "-o", "x.zip"]);
        let Command::Logs {
            command: LogsCommand::Get(args),
        } = cli.command
        else {
            panic!("not logs get")
        };
        assert_eq!(args.doc.as_deref(), Some(id));
        assert_eq!(args.output.to_str(), Some("x.zip"));
        let cli = Cli::parse_from(["sealpost", "logs", "get", "-o", "x.zip", id]);
        let Command::Logs {
            command: LogsCommand::Get(args),
        } = cli.command
        else {
            panic!("not logs get")
        };
        assert_eq!(args.doc.as_deref(), Some(id));
        let cli = Cli::parse_from(["sealpost", "logs", "get", "-o", "x.zip"]);
        let Command::Logs {
            command: LogsCommand::Get(args),
        } = cli.command
        else {
            panic!("not logs get")
        };
        assert_eq!(args.doc, None);
    }
}
