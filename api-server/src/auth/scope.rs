//! The scope a route declares, as a type: a handler takes `Authorized<Read>` (or `Write`, …),
//! so there is no way to a [`Principal`] without naming one.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};
use schema::Scope;

use super::{Principal, authorize};
use crate::error::ApiError;

/// A scope a route may declare.
pub trait RequiredScope: 'static {
    /// `None`: any valid credential (`POST /logout`).
    const SCOPE: Option<Scope>;
}

macro_rules! scopes {
    ($($(#[$doc:meta])* $name:ident => $scope:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl RequiredScope for $name {
            const SCOPE: Option<Scope> = $scope;
        }
    )*};
}

scopes! {
    /// `read`: GET documents, parts, content, browse.
    Read => Some(Scope::Read);
    /// `write`: create, update, PUT and DELETE of documents and parts, links, locks.
    Write => Some(Scope::Write);
    /// `deliver`: deliver and delivery status.
    Deliver => Some(Scope::Deliver);
    /// `logs`: `GET /logs`, view reports.
    Logs => Some(Scope::Logs);
    /// `admin`: API keys, producer keys, the allowlist.
    Admin => Some(Scope::Admin);
    /// Any valid credential, whatever it holds.
    Authenticated => None;
}

/// The caller, authorized for a route that needs scope `S`.
#[derive(Debug)]
pub struct Authorized<S>(Principal, PhantomData<S>);

impl<S> Authorized<S> {
    pub fn into_inner(self) -> Principal {
        self.0
    }
}

impl<S> Deref for Authorized<S> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<S: RequiredScope> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = authorize(&req, S::SCOPE).await?;
            Ok(Authorized(principal, PhantomData))
        })
    }
}
