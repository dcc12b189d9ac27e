//! A test PKI made with the `openssl` command line: a CA and the server certificates it signs
//! (for `127.0.0.1` and `localhost`), and what `openssl s_client` sees of a server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A CA in a directory of its own (`ca.pem`, `ca.key`).
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// Makes the CA (EC P-256, two days).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let pki = Self {
            dir: dir.to_owned(),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Sealpost TLS test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        pki
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The CA as reqwest roots.
    pub fn roots(&self) -> Vec<reqwest::Certificate> {
        reqwest::Certificate::from_pem_bundle(&std::fs::read(self.ca()).unwrap()).unwrap()
    }

    /// A client trusting this CA only.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only(self.roots())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Issues `{name}.pem` and `{name}.key` for `127.0.0.1` and `localhost`, subject CN `cn`.
    pub fn issue(&self, name: &str, cn: &str) -> (PathBuf, PathBuf) {
        let (key, csr, cert) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let subject = format!("/CN={cn}");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subject,
        ]);
        let ext = format!("{name}.ext");
        std::fs::write(
            self.dir.join(&ext),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ]);
        (self.dir.join(cert), self.dir.join(key))
    }

    fn openssl(&self, args: &[&str]) {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    }
}

/// `openssl s_client` against `addr` with `extra` flags (e.g. `-tls1_2`), trusting `ca`.
pub fn s_client(addr: SocketAddr, ca: &Path, extra: &[&str]) -> Output {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-CAfile"])
        .arg(ca)
        .args(["-verify_return_error", "-servername", "localhost"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take()); // EOF: the handshake, then quit
    child.wait_with_output().unwrap()
}

/// The subject of the certificate `addr` serves now (`subject=CN=…`), from a new connection.
pub fn served_subject(addr: SocketAddr, ca: &Path) -> String {
    let output = s_client(addr, ca, &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("subject="))
        .unwrap_or_else(|| panic!("no subject in {output:?}"))
        .trim()
        .to_owned()
}
