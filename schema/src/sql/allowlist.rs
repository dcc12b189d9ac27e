//! The statements of [`AllowlistRepo`]: `producers.allowlist`, a JSON array of CIDR strings.

use async_trait::async_trait;
use ipnet::IpNet;

use super::{Dialect, SqlRepository, sql};
use crate::codec::Columns as _;
use crate::ids::ProducerId;
use crate::repo::{AllowlistRepo, RepoError};

#[async_trait]
impl<D: Dialect> AllowlistRepo for SqlRepository<D> {
    async fn allowlist(&self, producer: &ProducerId) -> Result<Vec<IpNet>, RepoError> {
        let row = sql("SELECT allowlist FROM producers WHERE id = $1")
            .bind(producer.as_str())
            .fetch_optional(self.db())
            .await?;
        match row {
            Some(row) => decode(&row.text("allowlist")?),
            None => Ok(Vec::new()),
        }
    }

    async fn set_allowlist(
        &self,
        producer: &ProducerId,
        list: &[IpNet],
    ) -> Result<bool, RepoError> {
        let done = sql("UPDATE producers SET allowlist = $1 WHERE id = $2")
            .bind(encode(list).as_str())
            .bind(producer.as_str())
            .execute(self.db())
            .await?;
        Ok(done > 0)
    }
}

fn encode(list: &[IpNet]) -> String {
    let texts: Vec<String> = list.iter().map(IpNet::to_string).collect();
    serde_json::Value::from(texts).to_string()
}

fn decode(text: &str) -> Result<Vec<IpNet>, RepoError> {
    let corrupt = || RepoError::Corrupt("producers.allowlist: not a JSON array of CIDRs".into());
    let texts: Vec<String> = serde_json::from_str(text).map_err(|_| corrupt())?;
    texts
        .iter()
        .map(|cidr| cidr.parse().map_err(|_| corrupt()))
        .collect()
}
