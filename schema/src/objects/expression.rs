//! The inside of one `{…}` of an RFC 6570 template (§2.2–2.4), parsed strictly.

use super::template::{Expression, Modifier, Operator, VarSpec};

/// The inside of `{…}`: `[operator] varspec *("," varspec)`.
pub(crate) fn parse_expression(body: &str) -> Result<Expression, String> {
    let mut rest = body;
    let operator = match body.chars().next() {
        None => return Err("is empty".to_owned()),
        Some(c) => match c {
            '+' => Operator::Reserved,
            '#' => Operator::Fragment,
            '.' => Operator::Label,
            '/' => Operator::Path,
            ';' => Operator::PathParameter,
            '?' => Operator::Query,
            '&' => Operator::QueryContinuation,
            '=' | ',' | '!' | '@' | '|' => return Err(format!("uses the reserved operator `{c}`")),
            _ => Operator::Simple,
        },
    };
    if operator != Operator::Simple {
        rest = &body[1..];
    }
    let vars = rest
        .split(',')
        .map(parse_varspec)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Expression { operator, vars })
}

fn parse_varspec(spec: &str) -> Result<VarSpec, String> {
    let (name, modifier) = if let Some(name) = spec.strip_suffix('*') {
        (name, Modifier::Explode)
    } else if let Some((name, length)) = spec.split_once(':') {
        (name, Modifier::Prefix(parse_max_length(length)?))
    } else {
        (spec, Modifier::None)
    };
    check_varname(name)?;
    Ok(VarSpec {
        name: name.to_owned(),
        modifier,
    })
}

/// `max-length = %x31-39 0*3DIGIT`
fn parse_max_length(length: &str) -> Result<u16, String> {
    let well_formed = (1..=4).contains(&length.len())
        && length.bytes().all(|b| b.is_ascii_digit())
        && !length.starts_with('0');
    match length.parse::<u16>() {
        Ok(n) if well_formed => Ok(n),
        _ => Err("has a prefix modifier that is not a number from 1 to 9999".to_owned()),
    }
}

/// `varname = varchar *( ["."] varchar )`, `varchar = ALPHA / DIGIT / "_" / pct-encoded`
pub(crate) fn check_varname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("has an empty variable name".to_owned());
    }
    let bytes = name.as_bytes();
    let mut i = 0;
    let mut after_dot = true; // a name may not start with a dot
    while i < bytes.len() {
        match bytes[i] {
            b'.' if !after_dot => after_dot = true,
            b'%' if bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                i += 2;
                after_dot = false;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => after_dot = false,
            _ => return Err(invalid_varname(name)),
        }
        i += 1;
    }
    if after_dot {
        return Err(invalid_varname(name));
    }
    Ok(())
}

fn invalid_varname(name: &str) -> String {
    if name.chars().count() <= 64 {
        format!("has an invalid variable name `{}`", name.escape_debug())
    } else {
        "has an invalid variable name".to_owned()
    }
}
