//! Generic HTTP fulfillment: the filled `body` template POSTed to the filled `href`, one
//! request per recipient (or one for all with `batch`, the record fields and `link` then being
//! lists), with the fulfillment's headers and `Idempotency-Key` (the job's key, the same at
//! every attempt: a receiver that honours it serves a resent job once).

use std::collections::BTreeMap;

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use schema::objects::{Template, Var};

use shared::egress::{EgressPolicy, Scope};

use super::attempt::{Attempt, Failure, http_status, network, refused};

/// The header that carries a job's idempotency key (HTTP and XML-RPC).
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// An HTTP fulfillment's templates.
pub struct HttpTemplates<'a> {
    pub href: &'a Template,
    pub headers: &'a BTreeMap<String, Template>,
    pub content_type: &'a str,
    pub body: &'a Template,
}

/// Fills `template` or fails for good, naming the fulfillment member (never the values).
pub fn fill(template: &Template, values: &[(&str, &str)], member: &str) -> Result<String, Failure> {
    template
        .expand(values)
        .map_err(|error| Failure::permanent(format!("fulfillment.{member}: {error}")))
}

/// [`fill`] with list values too.
fn fill_vars(
    template: &Template,
    values: &[(&str, Var<'_>)],
    member: &str,
) -> Result<String, Failure> {
    template
        .expand_vars(values)
        .map_err(|error| Failure::permanent(format!("fulfillment.{member}: {error}")))
}

/// The filled `href`, which must still be an `http(s)` URL.
pub fn url(href: &Template, values: &[(&str, &str)]) -> Result<reqwest::Url, Failure> {
    let vars: Vec<(&str, Var<'_>)> = values.iter().map(|(n, v)| (*n, Var::Text(v))).collect();
    url_vars(href, &vars)
}

fn url_vars(href: &Template, values: &[(&str, Var<'_>)]) -> Result<reqwest::Url, Failure> {
    let url = reqwest::Url::parse(&fill_vars(href, values, "href")?)
        .map_err(|_| Failure::permanent("fulfillment.href: the filled template is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::permanent(
            "fulfillment.href: the filled template is not http(s)",
        ));
    }
    Ok(url)
}

/// Sends one request; the answer's body is never read (its status is the outcome).
pub async fn send(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    templates: &HttpTemplates<'_>,
    values: &[(&str, Var<'_>)],
    idempotency_key: &str,
) -> Attempt {
    let request = request(client, egress, templates, values, idempotency_key)?;
    let response = client.execute(request).await.map_err(network)?;
    http_status(response.status().as_u16())
}

/// The request [`send`] sends, built but not sent (a test delivery captures it).
pub fn request(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    templates: &HttpTemplates<'_>,
    values: &[(&str, Var<'_>)],
    idempotency_key: &str,
) -> Result<reqwest::Request, Failure> {
    let url = url_vars(templates.href, values)?;
    egress
        .check_url(&url, Scope::Default)
        .map_err(|_| refused())?;
    let mut request = client.post(url);
    for (name, template) in templates.headers {
        let member = format!("headers.{name}");
        let value =
            HeaderValue::from_str(&fill_vars(template, values, &member)?).map_err(|_| {
                Failure::permanent(format!(
                    "fulfillment.{member}: the filled value is not a header value"
                ))
            })?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Failure::permanent(format!("fulfillment.{member}: not a header name")))?;
        request = request.header(name, value);
    }
    let body = fill_vars(templates.body, values, "body")?;
    request
        .header(CONTENT_TYPE, templates.content_type)
        .header(IDEMPOTENCY_KEY, idempotency_key)
        .body(body)
        .build()
        .map_err(|_| Failure::permanent("fulfillment: the request could not be built"))
}
