//! The landing-page object (spec, "Landing Page Specification").

use serde_json::Value;

use super::ObjectError;
use super::json::{Members, error};
use super::template::{Syntax, Template};
use super::url::{Schemes, check_template_prefix};

/// What the gateway shows around the document link. (The default page is `null`, i.e. `None`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LandingPage {
    /// `{"type": "url", "href": "<URI template>"}`: a page shown in a frame.
    ///
    /// The href is an RFC 6570 template under the strict URI syntax whose literal start is
    /// `https://` (the scheme can never come from a variable) with no credentials; its
    /// variables ([`Template::variables`]) are filled from the viewer's audience record.
    Url { href: Template },
}

impl LandingPage {
    /// The template's variable names, each once.
    pub fn variables(&self) -> &[String] {
        match self {
            LandingPage::Url { href } => href.variables(),
        }
    }
}

/// Parses a (non-null) landing-page object.
pub fn parse_landingpage(value: &Value) -> Result<LandingPage, ObjectError> {
    let members = Members::new(value, "landingpage", &["type", "href"])?;
    if members.required_str("type")? != "url" {
        return Err(error("landingpage.type", "must be \"url\""));
    }
    let text = members.required_str("href")?;
    let href =
        Template::parse(text, Syntax::Uri).map_err(|detail| error("landingpage.href", detail))?;
    check_template_prefix(&href, Schemes::Https)
        .map_err(|detail| error("landingpage.href", detail))?;
    Ok(LandingPage::Url { href })
}
