//! The statements of [`AllowlistRepo`].

use async_trait::async_trait;

use super::{Dialect, SqlRepository};
use crate::repo::AllowlistRepo;

#[async_trait]
impl<D: Dialect> AllowlistRepo for SqlRepository<D> {}
