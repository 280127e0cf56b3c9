//! Hosted providers (HeyGen, ElevenLabs, Lyria, OpenRouter, Gemini): one module per service,
//! sharing one error type, one request helper ([`http`]), one client base ([`client`]) and one
//! provider id ([`Provider`]).

pub mod client;
pub mod elevenlabs;
pub mod error;
pub mod gemini;
pub mod heygen;
pub mod http;
pub mod lyria;
pub mod openrouter;
pub mod plan;
pub mod speech;
#[cfg(test)]
pub mod test_server;
pub mod vision;

/// A provider's id, as plans, `--provider`, errors and JSON spell it (`heygen`, `kokoro`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Heygen,
    Elevenlabs,
    Kokoro,
    Lyria,
    Musicgen,
    Bundled,
    Openrouter,
    Gemini,
}

impl Provider {
    pub const ALL: [Provider; 8] = [
        Self::Heygen,
        Self::Elevenlabs,
        Self::Kokoro,
        Self::Lyria,
        Self::Musicgen,
        Self::Bundled,
        Self::Openrouter,
        Self::Gemini,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Heygen => "heygen",
            Self::Elevenlabs => "elevenlabs",
            Self::Kokoro => "kokoro",
            Self::Lyria => "lyria",
            Self::Musicgen => "musicgen",
            Self::Bundled => "bundled",
            Self::Openrouter => "openrouter",
            Self::Gemini => "gemini",
        }
    }

    /// The name as people write it, for progress lines and messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Heygen => "HeyGen",
            Self::Elevenlabs => "ElevenLabs",
            Self::Kokoro => "Kokoro",
            Self::Lyria => "Lyria",
            Self::Musicgen => "MusicGen",
            Self::Bundled => "Bundled library",
            Self::Openrouter => "OpenRouter",
            Self::Gemini => "Gemini",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Provider {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An id that names no provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl std::fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let valid: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        write!(f, "'{}' is not a provider; valid ids: {}", self.0, valid.join(", "))
    }
}

impl std::error::Error for UnknownProvider {}

impl std::str::FromStr for Provider {
    type Err = UnknownProvider;

    /// Case-insensitive, surrounding blanks ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = s.trim();
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(id))
            .ok_or_else(|| UnknownProvider(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::Provider;

    #[test]
    fn provider_ids_round_trip_through_text_and_serde() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.as_str()));
            assert_eq!(serde_json::from_value::<Provider>(serde_json::json!(p.as_str())).unwrap(), p);
        }
        assert_eq!(" HeyGen ".parse::<Provider>(), Ok(Provider::Heygen));
        let e = "elevenlab".parse::<Provider>().unwrap_err().to_string();
        assert_eq!(
            e,
            "'elevenlab' is not a provider; valid ids: heygen, elevenlabs, kokoro, lyria, musicgen, bundled, openrouter, gemini"
        );
        assert!(serde_json::from_value::<Provider>(serde_json::json!("HeyGen")).is_err());
    }
}
