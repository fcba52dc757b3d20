//! The operations a server can apply to two ciphertexts.

/// A homomorphic operation on two ciphertexts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `a − b`, exact and signed.
    Sub,
    /// `max(a − b, 0)` per 8-bit sample, as OpenCV's `cv2.subtract` (legacy shuffle
    /// scheme only).
    SubSat,
}

impl Op {
    /// Every operation, in the order the API lists them.
    pub const ALL: [Op; 2] = [Op::Sub, Op::SubSat];

    /// The name the HTTP API and the CLI use.
    pub fn name(self) -> &'static str {
        match self {
            Op::Sub => "sub",
            Op::SubSat => "sub_sat",
        }
    }

    /// The operation of a name, if there is one.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }

    /// What the operation computes, with the operands called `a` and `b`.
    pub fn formula(self, a: &str, b: &str) -> String {
        match self {
            Op::Sub => format!("{a} − {b}"),
            Op::SubSat => format!("max({a} − {b}, 0)"),
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
