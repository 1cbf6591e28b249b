//! The one HTTPS client every SDK client shares.
//!
//! Left to itself, each SDK client makes its own default client, and each of those builds a
//! TLS connector when the SDK client is constructed, parsing the whole system trust store,
//! only to drop it: that eager build exists to load the trust store during init rather than
//! at the first request. With five SDK clients that is five parses of ~150 certificates in
//! every cold start. One shared client builds that first connector once, and then one
//! connector (and one connection pool) per timeout setting for all the clients.

use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::Once;

/// What `aws_config` would give each client (rustls on aws-lc, the proxy from the
/// environment), shared.
pub fn client() -> SharedHttpClient {
    let inner = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(Shared {
        inner,
        warmed: Once::new(),
    })
}

#[derive(Debug)]
struct Shared {
    inner: SharedHttpClient,
    warmed: Once,
}

impl HttpClient for Shared {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    /// The first SDK client's construction loads the trust store; the others' would only
    /// parse it again.
    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        let mut result = Ok(());
        self.warmed
            .call_once(|| result = self.inner.validate_base_client_config(components, cfg));
        result
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}
