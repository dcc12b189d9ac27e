//! One attempt's message, rendered before anything is sent ([`super::worker`] renders it, then
//! hands it to the one sender of the fulfillment's [`Channel`], which fills its templates).
//!
//! The variables, first match winning: Sealpost's own strings (`link`, the recipient's sealed
//! link; `placeholder`; `docId`), the recipient's record fields, then the deliver request's
//! form fields. A batch (one request for every record) makes `link` and each record field a
//! list, one item per record in audience order ("" where a record lacks the field).

use schema::objects::{Fulfillment, Var};

use super::attempt::Failure;
use super::email::EmailTemplates;
use super::http::HttpTemplates;
use super::secrets::DeliverySecrets;
use super::viewer::{RESERVED, Viewer, variables};
use super::xmlrpc::XmlRpcTemplates;

/// The variables of one attempt at one recipient.
pub struct Message {
    /// The deliver request's form fields, and its SMTP server when it named one.
    pub secrets: DeliverySecrets,
    viewer: Viewer,
    /// `link` (not for a batch), `placeholder`, `docId`.
    own: Vec<(&'static str, String)>,
    /// A batch's lists: `link`, then every record field any member has.
    batch: Option<Vec<(String, Vec<String>)>>,
}

impl Message {
    /// The message for `viewer` of the document at `placeholder_href` (id `doc_id`); `link`
    /// makes a viewer's sealed link.
    pub fn new(
        (placeholder_href, doc_id): (&str, &str),
        secrets: DeliverySecrets,
        viewer: Viewer,
        link: impl Fn(&Viewer) -> Result<String, Failure>,
    ) -> Result<Self, Failure> {
        let (own_link, batch) = match viewer.members.is_empty() {
            true => (Some(("link", link(&viewer)?)), None),
            false => (None, Some(batch_lists(&viewer.members, link)?)),
        };
        let own = (own_link.into_iter())
            .chain([
                ("placeholder", placeholder_href.to_owned()),
                ("docId", doc_id.to_owned()),
            ])
            .collect();
        Ok(Self {
            secrets,
            viewer,
            own,
            batch,
        })
    }

    /// An `octet-stream` audience's data (base64 text), for XML-RPC's `<base64>` parameter.
    pub fn data(&self) -> Option<&str> {
        self.viewer.data.as_deref()
    }

    /// Every variable as text (a batch's lists left out): what email and XML-RPC fill.
    pub fn values(&self) -> Vec<(&str, &str)> {
        variables(&self.own, &self.viewer, &self.secrets.form)
    }

    /// Every variable, a batch's lists as lists: what HTTP fills.
    pub fn vars(&self) -> Vec<(&str, Var<'_>)> {
        match &self.batch {
            Some(lists) => batch_vars(lists, &self.own, &self.secrets.form),
            None => (self.values().into_iter())
                .map(|(name, value)| (name, Var::Text(value)))
                .collect(),
        }
    }
}

/// The way a fulfillment sends, with its templates.
pub enum Channel<'a> {
    Http(HttpTemplates<'a>),
    XmlRpc(XmlRpcTemplates<'a>),
    Email(EmailTemplates<'a>),
}

impl<'a> Channel<'a> {
    pub fn of(fulfillment: &'a Fulfillment) -> Self {
        match fulfillment {
            Fulfillment::Http {
                href,
                headers,
                content_type,
                body,
                ..
            } => Channel::Http(HttpTemplates {
                href,
                headers,
                content_type,
                body,
            }),
            Fulfillment::XmlRpc {
                href,
                method_name,
                params,
            } => Channel::XmlRpc(XmlRpcTemplates {
                href,
                method_name,
                params,
            }),
            Fulfillment::Email {
                from,
                to,
                subject,
                body,
            } => Channel::Email(EmailTemplates {
                from,
                to,
                subject,
                body,
            }),
        }
    }
}

/// A batch's list variables: `link` (each member's sealed link), then every record field named
/// by any member, each a list in member order.
fn batch_lists(
    members: &[Viewer],
    link: impl Fn(&Viewer) -> Result<String, Failure>,
) -> Result<Vec<(String, Vec<String>)>, Failure> {
    let links = members.iter().map(&link).collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<&str> = Vec::new();
    for member in members {
        for (name, _) in &member.fields {
            if !names.contains(&name.as_str()) && !RESERVED.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut lists = vec![("link".to_owned(), links)];
    for name in names {
        let items = members
            .iter()
            .map(|member| {
                (member.fields.iter())
                    .find(|(field, _)| field == name)
                    .map_or_else(String::new, |(_, value)| value.clone())
            })
            .collect();
        lists.push((name.to_owned(), items));
    }
    Ok(lists)
}

/// A batch's variables, first match winning as in [`variables`]: the lists, Sealpost's own
/// strings (`placeholder`, `docId`), then the deliver request's form fields.
fn batch_vars<'a>(
    lists: &'a [(String, Vec<String>)],
    own: &'a [(&'static str, String)],
    form: &'a [(String, String)],
) -> Vec<(&'a str, Var<'a>)> {
    (lists
        .iter()
        .map(|(name, items)| (name.as_str(), Var::List(items))))
    .chain(own.iter().map(|(name, value)| (*name, Var::Text(value))))
    .chain(
        form.iter()
            .map(|(name, value)| (name.as_str(), Var::Text(value))),
    )
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(fields: &[(&str, &str)]) -> Viewer {
        Viewer {
            fields: (fields.iter())
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            token: vec![(
                "v".to_owned(),
                fields.first().map_or("", |f| f.1).to_owned(),
            )],
            ..Viewer::default()
        }
    }

    fn link(viewer: &Viewer) -> Result<String, Failure> {
        Ok(format!("https://g/l/{}", viewer.token[0].1))
    }

    fn secrets(form: &[(&str, &str)]) -> DeliverySecrets {
        DeliverySecrets {
            form: (form.iter())
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            smtp_url: None,
        }
    }

    #[test]
    fn one_recipient_gets_its_own_link_first_then_its_fields_then_the_form() {
        let message = Message::new(
            ("https://g/p1", "d1"),
            secrets(&[("note", "hi"), ("name", "form")]),
            viewer(&[("name", "Ann")]),
            link,
        );
        let message = message.unwrap_or_else(|_| panic!("no message"));
        let values = message.values();
        let first = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(first("link"), Some("https://g/l/Ann"));
        assert_eq!(first("placeholder"), Some("https://g/p1"));
        assert_eq!(first("docId"), Some("d1"));
        assert_eq!(first("name"), Some("Ann"));
        assert_eq!(first("note"), Some("hi"));
        assert!(matches!(
            message.vars()[0],
            ("link", Var::Text("https://g/l/Ann"))
        ));
    }

    #[test]
    fn a_batch_makes_link_and_every_field_a_list_in_member_order() {
        let batch = Viewer {
            members: vec![viewer(&[("name", "Ann")]), viewer(&[("city", "Bern")])],
            ..Viewer::default()
        };
        let message = Message::new(("https://g/p1", "d1"), secrets(&[]), batch, link)
            .unwrap_or_else(|_| panic!("no message"));
        let vars = message.vars();
        let list = |name: &str| match vars.iter().find(|(n, _)| *n == name) {
            Some((_, Var::List(items))) => items.to_vec(),
            _ => Vec::new(),
        };
        assert_eq!(list("link"), ["https://g/l/Ann", "https://g/l/Bern"]);
        assert_eq!(list("name"), ["Ann", ""]);
        assert_eq!(list("city"), ["", "Bern"]);
        assert!(message.values().iter().all(|(name, _)| *name != "link"));
    }

    #[test]
    fn a_link_that_cannot_be_made_fails_the_message() {
        let refuse = |_: &Viewer| Err(Failure::permanent("too long"));
        let message = Message::new(("h", "d"), secrets(&[]), viewer(&[("a", "b")]), refuse);
        assert_eq!(message.err(), Some(Failure::permanent("too long")));
    }
}
