//! `docker-compose.yml` (and the `ENV` of the `Dockerfile` its services run) read as Compose
//! reads them: each service's command, environment, volume and secrets, with `${VAR}` taken
//! from a `.env`-like map. The topology test starts the real binaries from nothing else, so the
//! file and the test cannot drift.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

/// The repository's compose file and Dockerfile.
pub const COMPOSE_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml");
pub const DOCKERFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile");

/// One service as Compose would start it (variables interpolated, nothing localized yet).
#[derive(Debug, Clone)]
pub struct Service {
    /// `command`, the binary first.
    pub command: Vec<String>,
    /// The image's `ENV`, then the service's `environment` over it.
    pub env: BTreeMap<String, String>,
    /// Only the service's `environment` keys (what the compose file itself gives).
    pub own_env: BTreeSet<String>,
    /// The named volume mounted at `/data`.
    pub volume: String,
    /// `(secret name, target path)` pairs.
    pub secrets: Vec<(String, String)>,
}

/// The parsed file: every service, and each secret's source file name.
pub struct Compose {
    pub services: BTreeMap<String, Service>,
    pub secret_files: BTreeMap<String, String>,
    /// Variables the file requires (`${NAME:?…}`).
    pub required: BTreeSet<String>,
    /// Variables the file refers to at all.
    pub referenced: BTreeSet<String>,
    /// The Dockerfile's `ENV`.
    pub image_env: BTreeMap<String, String>,
    /// Every service's name (the compose network's host names).
    pub hosts: BTreeSet<String>,
    /// The `environment` of the services the test does not run (PostgreSQL, the S3 server and
    /// its one-shot services), interpolated.
    pub others: BTreeMap<String, BTreeMap<String, String>>,
    /// Every service's `image`, interpolated.
    pub images: BTreeMap<String, String>,
}

impl Compose {
    /// Reads both files, interpolating `${…}` from `dotenv` (a required variable missing from
    /// it panics, as `docker compose` refuses to start).
    pub fn load(dotenv: &BTreeMap<String, String>) -> Self {
        let text = std::fs::read_to_string(COMPOSE_FILE).unwrap();
        let (required, referenced) = variables(&text);
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        let image_env = dockerfile_env(&std::fs::read_to_string(DOCKERFILE).unwrap());
        let mut services = BTreeMap::new();
        let mut hosts = BTreeSet::new();
        let mut others = BTreeMap::new();
        let mut images = BTreeMap::new();
        for (name, service) in doc["services"].as_mapping().unwrap() {
            let name = name.as_str().unwrap().to_owned();
            hosts.insert(name.clone());
            let image = service["image"]
                .as_str()
                .expect("every service names its image");
            images.insert(name.clone(), interpolate(image, dotenv));
            if service.get("build").is_none() {
                // PostgreSQL and the S3 server: the test brings its own.
                let env = environment(service, dotenv).into_iter().collect();
                others.insert(name, env);
                continue;
            }
            services.insert(name, sealpost_service(service, &image_env, dotenv));
        }
        let mut secret_files = BTreeMap::new();
        if let Some(secrets) = doc.get("secrets").and_then(Value::as_mapping) {
            for (name, secret) in secrets {
                let file = secret["file"].as_str().unwrap();
                let file = file.strip_prefix("./").unwrap_or(file);
                secret_files.insert(name.as_str().unwrap().to_owned(), file.to_owned());
            }
        }
        Self {
            services,
            secret_files,
            required,
            referenced,
            image_env,
            hosts,
            others,
            images,
        }
    }

    pub fn service(&self, name: &str) -> &Service {
        self.services
            .get(name)
            .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
    }
}

fn sealpost_service(
    service: &Value,
    image_env: &BTreeMap<String, String>,
    dotenv: &BTreeMap<String, String>,
) -> Service {
    let command = service["command"]
        .as_sequence()
        .expect("a sealpost service's command is a list")
        .iter()
        .map(|arg| interpolate(arg.as_str().unwrap(), dotenv))
        .collect();
    let mut env = image_env.clone();
    let mut own_env = BTreeSet::new();
    for (key, value) in environment(service, dotenv) {
        own_env.insert(key.clone());
        env.insert(key, value);
    }
    let volumes: Vec<&str> = service["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|volume| volume.as_str().unwrap())
        .collect();
    let [volume] = volumes[..] else {
        panic!("one volume per sealpost service: {volumes:?}")
    };
    let volume = volume
        .strip_suffix(":/data")
        .expect("the service's volume is mounted at /data");
    let secrets = service
        .get("secrets")
        .and_then(Value::as_sequence)
        .map(|secrets| {
            secrets
                .iter()
                .map(|secret| {
                    let source = secret["source"].as_str().unwrap().to_owned();
                    let target = secret["target"].as_str().unwrap().to_owned();
                    (source, target)
                })
                .collect()
        })
        .unwrap_or_default();
    Service {
        command,
        env,
        own_env,
        volume: volume.to_owned(),
        secrets,
    }
}

/// A service's `environment` mapping (none: empty), interpolated.
fn environment(service: &Value, dotenv: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let Some(mapping) = service.get("environment").and_then(Value::as_mapping) else {
        return Vec::new();
    };
    mapping
        .iter()
        .map(|(key, value)| {
            let key = key.as_str().unwrap().to_owned();
            let value = match value {
                Value::String(text) => interpolate(text, dotenv),
                Value::Bool(flag) => flag.to_string(),
                Value::Number(number) => number.to_string(),
                other => panic!("{key}: unexpected value {other:?}"),
            };
            (key, value)
        })
        .collect()
}

/// Compose's interpolation: `$$` is `$`, `${NAME}`, `${NAME:-default}`, `${NAME:?message}`
/// (empty counts as unset in both, as with the colon forms in Compose).
pub fn interpolate(text: &str, dotenv: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let inner = rest.strip_prefix('{').expect("only ${…} forms in the file");
        let end = inner.find('}').unwrap();
        let (expression, after) = (&inner[..end], &inner[end + 1..]);
        rest = after;
        let (name, operator) = split_expression(expression);
        let value = dotenv.get(name).filter(|value| !value.is_empty());
        match (value, operator) {
            (Some(value), _) => out.push_str(value),
            (None, Some((":-", default))) => out.push_str(default),
            (None, Some((":?", message))) => panic!("{name}: {message} (the test's .env lacks it)"),
            (None, _) => {}
        }
    }
    out.push_str(rest);
    out
}

fn split_expression(expression: &str) -> (&str, Option<(&str, &str)>) {
    for operator in [":-", ":?"] {
        if let Some((name, rest)) = expression.split_once(operator) {
            return (name, Some((operator, rest)));
        }
    }
    (expression, None)
}

/// `(required, referenced)` variable names of the file's `${…}` expressions.
fn variables(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut required = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    let unescaped = text.replace("$$", "");
    for piece in unescaped.split("${").skip(1) {
        let expression = &piece[..piece.find('}').unwrap()];
        let (name, operator) = split_expression(expression);
        referenced.insert(name.to_owned());
        if matches!(operator, Some((":?", _))) {
            required.insert(name.to_owned());
        }
    }
    (required, referenced)
}

/// The variables the file's header tells operators to put in `.env` (`#   NAME=…` lines).
pub fn documented_dotenv() -> BTreeSet<String> {
    let text = std::fs::read_to_string(COMPOSE_FILE).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("#   "))
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with(|c: char| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The `ENV` instructions of a Dockerfile (`ENV A=1 \` continued lines), last one winning.
fn dockerfile_env(text: &str) -> BTreeMap<String, String> {
    let joined = text.replace("\\\n", " ");
    let mut env = BTreeMap::new();
    for line in joined.lines() {
        let Some(pairs) = line.trim_start().strip_prefix("ENV ") else {
            continue;
        };
        for pair in pairs.split_whitespace() {
            let (key, value) = pair.split_once('=').expect("ENV KEY=value form");
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    env
}

#[test]
fn interpolation_follows_compose() {
    let dotenv = BTreeMap::from([
        ("SET".to_owned(), "v".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]);
    assert_eq!(interpolate("a${SET}b", &dotenv), "avb");
    assert_eq!(interpolate("${UNSET:-8082:8082}", &dotenv), "8082:8082");
    assert_eq!(interpolate("${EMPTY:-d}", &dotenv), "d");
    assert_eq!(interpolate("${SET:?set it}", &dotenv), "v");
    assert_eq!(interpolate("$$HOME ${UNSET}", &dotenv), "$HOME ");
    let (required, referenced) = variables("${A:?x} ${B:-y} ${C} $$D");
    assert_eq!(required, BTreeSet::from(["A".to_owned()]));
    assert_eq!(referenced.len(), 3);
    let env = dockerfile_env("FROM x\nENV A=/data \\\n    B=json\nENV C=1\n");
    assert_eq!(env.len(), 3);
    assert_eq!(env["A"], "/data");
}
