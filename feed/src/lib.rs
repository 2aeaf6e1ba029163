//! Feed ranking (skeleton; being written).
