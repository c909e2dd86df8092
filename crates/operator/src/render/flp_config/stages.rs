//! Building blocks of the pipeline: the stage list split between the static and the dynamic
//! document, the constructors of one stage's parameters, and the numeric conversions the
//! pipeline's narrower fields need.

use netobserv_flp_config as flp;
use netobserv_flp_config::{Config, Encode, StageParams, Transform, Write};

/// Stages in the order they are added; dynamic ones go to the dynamic document.
#[derive(Default)]
pub(super) struct Builder {
    /// The static document: every stage's place in the pipeline, and the static stages.
    pub(super) static_config: Config,
    /// The dynamic document: the parameters of the hot-reloaded stages.
    pub(super) dynamic_config: Config,
}

impl Builder {
    /// Adds stage `params` after `follows`, in the dynamic document when `dynamic`; returns its
    /// name (what the next stage follows).
    pub(super) fn stage(
        &mut self,
        follows: Option<&str>,
        params: StageParams,
        dynamic: bool,
    ) -> String {
        let name = params.name.clone();
        self.static_config
            .pipeline
            .push(flp::StageRef::new(&name, follows));
        if dynamic {
            self.dynamic_config.parameters.push(params);
        } else {
            self.static_config.parameters.push(params);
        }
        name
    }
}

/// Parameters of stage `name`, its kind still to set.
pub(super) fn named(name: &str) -> StageParams {
    StageParams {
        name: name.to_string(),
        ..StageParams::default()
    }
}

/// A transform stage.
pub(super) fn transform(name: &str, t: Transform) -> StageParams {
    StageParams {
        transform: Some(t),
        ..named(name)
    }
}

/// An encode stage.
pub(super) fn encode(name: &str, e: Encode) -> StageParams {
    StageParams {
        encode: Some(e),
        ..named(name)
    }
}

/// A write stage.
pub(super) fn write(name: &str, w: Write) -> StageParams {
    StageParams {
        write: Some(w),
        ..named(name)
    }
}

/// A port the CRD schema bounds to 1..=65535 (0 only if a stored object bypassed it).
pub(super) fn port(value: i32) -> u16 {
    u16::try_from(value).unwrap_or_default()
}

/// A sampling ratio in the pipeline's 16-bit field (upstream's `uint16`): larger ratios are
/// capped at 65535 rather than wrapped.
pub(super) fn sampling_ratio(value: i32) -> u16 {
    u16::try_from(value.max(0)).unwrap_or(u16::MAX)
}
