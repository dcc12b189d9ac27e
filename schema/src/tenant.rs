//! Whose data a producer-API query may see: one producer's, in one environment (DESIGN,
//! "Producer credentials and environments"). Every document read of the producer API takes a
//! [`Tenant`], so scoping to the environment cannot be forgotten at one call site.

use crate::credentials::Environment;
use crate::ids::ProducerId;

/// A producer acting in one environment: it sees only that environment's documents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub producer: ProducerId,
    pub environment: Environment,
}

impl Tenant {
    pub fn new(producer: ProducerId, environment: Environment) -> Self {
        Self {
            producer,
            environment,
        }
    }

    /// The producer's live environment (every document stored before environments existed).
    pub fn live(producer: ProducerId) -> Self {
        Self::new(producer, Environment::Live)
    }

    pub fn is_test(&self) -> bool {
        self.environment == Environment::Test
    }
}
