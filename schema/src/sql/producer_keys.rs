//! The statements of [`ProducerKeyRepo`].

use async_trait::async_trait;

use super::{Dialect, SqlRepository};
use crate::repo::ProducerKeyRepo;

#[async_trait]
impl<D: Dialect> ProducerKeyRepo for SqlRepository<D> {}
