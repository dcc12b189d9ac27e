//! The statements of [`ApiKeyRepo`].

use async_trait::async_trait;

use super::{Dialect, SqlRepository};
use crate::repo::ApiKeyRepo;

#[async_trait]
impl<D: Dialect> ApiKeyRepo for SqlRepository<D> {}
