//! The embedded migration sets, one per database (their DDL differs by nature; the list of
//! versions is written once here).

/// `(version, description, SQL)` of every migration in `migrations/{dir}/`, in order.
/// (The numbering skips 0009 and 0010.)
macro_rules! embedded_migrations {
    ($dir:literal) => {
        &[
            (
                1,
                "init",
                include_str!(concat!("../../migrations/", $dir, "/0001_init.sql")),
            ),
            (
                2,
                "vault",
                include_str!(concat!("../../migrations/", $dir, "/0002_vault.sql")),
            ),
            (
                3,
                "gateway",
                include_str!(concat!("../../migrations/", $dir, "/0003_gateway.sql")),
            ),
            (
                4,
                "large_columns_last",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0004_large_columns_last.sql"
                )),
            ),
            (
                5,
                "oauth",
                include_str!(concat!("../../migrations/", $dir, "/0005_oauth.sql")),
            ),
            (
                6,
                "audit",
                include_str!(concat!("../../migrations/", $dir, "/0006_audit.sql")),
            ),
            (
                7,
                "deliveries",
                include_str!(concat!("../../migrations/", $dir, "/0007_deliveries.sql")),
            ),
            (
                8,
                "content_signatures",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0008_content_signatures.sql"
                )),
            ),
            (
                11,
                "access_version",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0011_access_version.sql"
                )),
            ),
            (
                12,
                "api_keys",
                include_str!(concat!("../../migrations/", $dir, "/0012_api_keys.sql")),
            ),
            (
                13,
                "producer_keys",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0013_producer_keys.sql"
                )),
            ),
            (
                14,
                "allowlist",
                include_str!(concat!("../../migrations/", $dir, "/0014_allowlist.sql")),
            ),
            (
                15,
                "environments",
                include_str!(concat!("../../migrations/", $dir, "/0015_environments.sql")),
            ),
            (
                16,
                "object_uploads",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0016_object_uploads.sql"
                )),
            ),
            (
                17,
                "digest_nonce_uses",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0017_digest_nonce_uses.sql"
                )),
            ),
            (
                18,
                "idempotency",
                include_str!(concat!("../../migrations/", $dir, "/0018_idempotency.sql")),
            ),
            (
                19,
                "view_attribution",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0019_view_attribution.sql"
                )),
            ),
            (
                20,
                "view_retention",
                include_str!(concat!(
                    "../../migrations/",
                    $dir,
                    "/0020_view_retention.sql"
                )),
            ),
        ]
    };
}
pub(crate) use embedded_migrations;
