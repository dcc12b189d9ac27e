//! XML-RPC fulfillment (the shape of the spec's iPost "triggered mailing" integration): one
//! `methodCall` per recipient, its string parameters the filled `params` templates, POSTed as
//! `text/xml` to the filled `href` with the job's `Idempotency-Key`. A `fault` answer is final:
//! the job fails with the fault's code and string.

use std::ops::ControlFlow::{self, Break, Continue};

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};
use reqwest::header::CONTENT_TYPE;
use schema::objects::Template;

use shared::egress::{EgressPolicy, Scope};

use super::attempt::{Attempt, Failure, http_status, network, refused};
use super::http::{IDEMPOTENCY_KEY, fill, url};

/// Longest answer read, in bytes: a method response is small.
const MAX_ANSWER: usize = 64 * 1024;
/// Longest fault string kept in a job's reason.
const MAX_FAULT: usize = 300;

pub struct XmlRpcTemplates<'a> {
    pub href: &'a Template,
    pub method_name: &'a str,
    pub params: &'a [Template],
}

/// One parameter of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A filled template: `<string>`.
    String(String),
    /// An `octet-stream` audience's data where a template is exactly `{data}`: `<base64>`,
    /// XML-RPC's type for bytes, holding the producer's base64 text as sent (it was checked
    /// to decode when the audience was stored), so the receiver gets the bytes themselves.
    Base64(String),
}

impl From<&str> for Param {
    fn from(text: &str) -> Self {
        Param::String(text.to_owned())
    }
}

/// The `methodCall` document.
pub fn method_call(method_name: &str, params: &[Param]) -> Result<String, Failure> {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    escape_into(&mut xml, method_name)?;
    xml.push_str("</methodName><params>");
    for param in params {
        let (tag, text) = match param {
            Param::String(text) => ("string", text),
            Param::Base64(text) => ("base64", text),
        };
        xml.push_str(&format!("<param><value><{tag}>"));
        escape_into(&mut xml, text)?;
        xml.push_str(&format!("</{tag}></value></param>"));
    }
    xml.push_str("</params></methodCall>\n");
    Ok(xml)
}

/// The template that passes an `octet-stream` audience's data as `<base64>`.
const DATA_TEMPLATE: &str = "{data}";

/// The parameters of a call: each template filled, or the audience's `data` as `<base64>`.
fn params(
    templates: &XmlRpcTemplates<'_>,
    values: &[(&str, &str)],
    data: Option<&str>,
) -> Result<Vec<Param>, Failure> {
    (templates.params.iter().enumerate())
        .map(|(i, template)| match data {
            Some(data) if template.as_str() == DATA_TEMPLATE => Ok(Param::Base64(padded(data))),
            _ => fill(template, values, &format!("params[{i}]")).map(Param::String),
        })
        .collect()
}

/// `data` (standard base64, stored with its padding or without: both are accepted) with its
/// padding: XML-RPC receivers decode `<base64>` strictly (Python's `xmlrpc.client` refuses
/// "Incorrect padding"). Valid unpadded base64 is never 1 short of a multiple of 4.
fn padded(data: &str) -> String {
    format!("{data}{}", "=".repeat((4 - data.len() % 4) % 4))
}

/// XML-escapes `text`; CR is written `&#13;` so it survives line-end normalization. XML 1.0
/// cannot carry other control characters at all.
fn escape_into(out: &mut String, text: &str) -> Result<(), Failure> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(Failure::permanent(
                    "fulfillment.params: a filled parameter holds a character XML cannot carry",
                ));
            }
            c => out.push(c),
        }
    }
    Ok(())
}

pub async fn send(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    templates: &XmlRpcTemplates<'_>,
    (values, data): (&[(&str, &str)], Option<&str>),
    idempotency_key: &str,
) -> Attempt {
    let request = request(client, egress, templates, (values, data), idempotency_key)?;
    let response = client.execute(request).await.map_err(network)?;
    let status = http_status(response.status().as_u16())?;
    let answer = read_body(response).await?;
    outcome(read_answer(&answer), status)
}

/// The `methodCall` POST [`send`] sends, built but not sent (a test delivery captures it).
/// `data`: an `octet-stream` audience's data ([`Param::Base64`]).
pub fn request(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    templates: &XmlRpcTemplates<'_>,
    (values, data): (&[(&str, &str)], Option<&str>),
    idempotency_key: &str,
) -> Result<reqwest::Request, Failure> {
    let url = url(templates.href, values)?;
    egress
        .check_url(&url, Scope::Default)
        .map_err(|_| refused())?;
    let params = params(templates, values, data)?;
    let body = method_call(templates.method_name, &params)?;
    client
        .post(url)
        .header(CONTENT_TYPE, "text/xml")
        .header(IDEMPOTENCY_KEY, idempotency_key)
        .body(body)
        .build()
        .map_err(|_| Failure::permanent("fulfillment: the request could not be built"))
}

/// The answer's body, at most [`MAX_ANSWER`] bytes.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let mut answer = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if answer.len() + chunk.len() > MAX_ANSWER {
            return Err(Failure::permanent("the XML-RPC answer is too long"));
        }
        answer.extend_from_slice(&chunk);
    }
    Ok(answer)
}

/// A 2xx answer's outcome (`status` its HTTP status): a fault is final.
fn outcome(answer: Answer, status: Option<u16>) -> Attempt {
    match answer {
        Answer::Success => Ok(status),
        Answer::Fault { code, string } => Err(Failure::permanent(format!(
            "XML-RPC fault {}: {}",
            code.as_deref().unwrap_or("-"),
            string.as_deref().unwrap_or("-")
        ))
        .with_status(status.unwrap_or(200))),
        Answer::Malformed => Err(Failure::permanent(
            "the answer is not an XML-RPC methodResponse",
        )),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Success,
    Fault {
        code: Option<String>,
        string: Option<String>,
    },
    Malformed,
}

/// Reads a `methodResponse`: `<params>` is success, `<fault>` a fault whose `faultCode` and
/// `faultString` members are kept (the string cut to 300 characters).
pub fn read_answer(xml: &[u8]) -> Answer {
    let mut reader = Reader::from_reader(xml);
    let mut state = AnswerState::default();
    loop {
        let step = match reader.read_event() {
            Err(_) => Break(Answer::Malformed),
            Ok(Event::Eof) => break,
            Ok(Event::Start(start)) => state.start(start.local_name().as_ref()),
            Ok(Event::Text(part)) => match part.xml10_content() {
                Ok(part) => state.push_str(&part),
                Err(_) => Break(Answer::Malformed),
            },
            Ok(Event::GeneralRef(reference)) => match entity(&reference) {
                Some(c) => state.push_str(c.encode_utf8(&mut [0; 4])),
                None => Break(Answer::Malformed),
            },
            Ok(Event::End(end)) => state.end(end.local_name().as_ref()),
            Ok(_) => Continue(()),
        };
        if let Break(answer) = step {
            return answer;
        }
    }
    state.finish()
}

/// Where [`read_answer`] is in a `methodResponse`, and the fault members read so far.
#[derive(Default)]
struct AnswerState {
    depth: usize,
    fault: bool,
    /// The text of the innermost open element (text and entity references, joined).
    text: String,
    member: Option<String>,
    code: Option<String>,
    string: Option<String>,
}

impl AnswerState {
    /// An element opens: the answer is known at once for `<params>` or a wrong shape.
    fn start(&mut self, name: &[u8]) -> ControlFlow<Answer> {
        match (self.depth, name) {
            (0, b"methodResponse") => {}
            (0, _) => return Break(Answer::Malformed),
            (1, b"params") => return Break(Answer::Success),
            (1, b"fault") => self.fault = true,
            (1, _) => return Break(Answer::Malformed),
            _ => {}
        }
        self.depth += 1;
        self.text.clear();
        Continue(())
    }

    fn push_str(&mut self, part: &str) -> ControlFlow<Answer> {
        self.text.push_str(part);
        Continue(())
    }

    /// An element closes: inside a fault, a member's `<name>` or its value.
    fn end(&mut self, name: &[u8]) -> ControlFlow<Answer> {
        self.depth = self.depth.saturating_sub(1);
        let value = std::mem::take(&mut self.text);
        let value = value.trim();
        if !self.fault || value.is_empty() {
            return Continue(());
        }
        if name == b"name" {
            self.member = Some(value.to_owned());
        } else {
            let value: String = value.chars().take(MAX_FAULT).collect();
            match self.member.as_deref() {
                Some("faultCode") if self.code.is_none() => self.code = Some(value),
                Some("faultString") if self.string.is_none() => self.string = Some(value),
                _ => {}
            }
        }
        Continue(())
    }

    fn finish(self) -> Answer {
        if self.fault {
            Answer::Fault {
                code: self.code,
                string: self.string,
            }
        } else {
            Answer::Malformed
        }
    }
}

/// The character an entity or character reference stands for; `None` for one XML does not
/// define (a `methodResponse` has no DTD).
fn entity(reference: &BytesRef<'_>) -> Option<char> {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => Some(c),
        Ok(None) => match &**reference {
            b"amp" => Some('&'),
            b"lt" => Some('<'),
            b"gt" => Some('>'),
            b"quot" => Some('"'),
            b"apos" => Some('\''),
            _ => None,
        },
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn calls_escape_and_answers_read() {
        let xml = method_call("mail.send", &["a<b & \"c\"\r\nd".into()]).unwrap();
        assert!(
            xml.contains("<string>a&lt;b &amp; \"c\"&#13;\nd</string>"),
            "{xml}"
        );
        assert!(method_call("m", &["\u{1}".into()]).is_err());
        let xml = method_call("m", &[Param::Base64("AP8=".into())]).unwrap();
        assert!(
            xml.contains("<param><value><base64>AP8=</base64></value></param>"),
            "{xml}"
        );
        let ok = b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n</params>\n</methodResponse>\n";
        assert_eq!(read_answer(ok), Answer::Success);
        let fault = b"<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>4</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>unknown list &amp; id</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
        assert_eq!(
            read_answer(fault),
            Answer::Fault {
                code: Some("4".into()),
                string: Some("unknown list & id".into())
            }
        );
        assert_eq!(read_answer(b"<html>no</html>"), Answer::Malformed);
        assert_eq!(read_answer(b"not xml <<<"), Answer::Malformed);
    }

    #[test]
    fn octet_stream_data_is_sent_padded() {
        for (stored, sent) in [
            ("AP8", "AP8="),
            ("AP8=", "AP8="),
            ("AA", "AA=="),
            ("AAAA", "AAAA"),
        ] {
            assert_eq!(padded(stored), sent);
        }
    }

    #[test]
    fn a_fault_is_final_with_its_code_and_string() {
        assert_eq!(outcome(Answer::Success, Some(200)), Ok(Some(200)));
        let fault = Answer::Fault {
            code: Some("4".into()),
            string: None,
        };
        let failure = outcome(fault, Some(200)).unwrap_err();
        assert_eq!(failure.reason, "XML-RPC fault 4: -");
        assert_eq!((failure.status, failure.transient), (Some(200), false));
        let malformed = outcome(Answer::Malformed, Some(200)).unwrap_err();
        assert!(!malformed.transient);
    }

    #[test]
    fn fault_members_take_the_first_value_and_entities_resolve() {
        let fault = b"<methodResponse><fault><value><struct><member><name>faultString</name><value>a &#65;&lt;</value></member><member><name>faultString</name><value>second</value></member></struct></value></fault></methodResponse>";
        let answer = Answer::Fault {
            code: None,
            string: Some("a A<".into()),
        };
        assert_eq!(read_answer(fault), answer);
        let unknown = b"<methodResponse><fault><value>&nbsp;</value></fault></methodResponse>";
        assert_eq!(read_answer(unknown), Answer::Malformed);
        assert_eq!(
            read_answer(b"<methodResponse></methodResponse>"),
            Answer::Malformed
        );
    }
}
