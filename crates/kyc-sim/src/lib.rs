//! Deterministic synthetic Ditto ID KYC submissions ("default payload v3.0") with generated
//! document, portrait and selfie images, for `kyc-desk simulate` and for tests.
//!
//! Everything is derived from `(scenario, index, seed, today)`: no clock, no OS randomness,
//! no network, no files. The same inputs give a byte-identical payload.
//!
//! ```
//! use kyc_sim::{generate, Scenario, Today};
//! let today = Today { year: 2025, month: 6, day: 1 };
//! let s = generate(Scenario::Mixed, 1, 42, &today);
//! assert_eq!(s.scenario, Scenario::Expired);
//! assert_eq!(s.payload["kyc_info"]["document"]["version"], "3.0");
//! ```

mod date;
mod docs;
mod draw;
mod face;
mod font;
pub mod mrz;
mod payload;
mod people;
mod rng;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use docs::{CARD_SIZE, PASSPORT_PAGE_SIZE, PORTRAIT_SIZE, SELFIE_SIZE};

/// What kind of submission to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Everything valid: document OK, face matched, live.
    Clean,
    /// The document's date of expiry is in the past.
    Expired,
    /// The selfie is someone else, and a visual field differs from the MRZ.
    Mismatch,
    /// Hologram check failed and the MRZ document-number check digit is wrong.
    Tampered,
    /// Clean, Expired, Mismatch, Tampered in rotation by index.
    Mixed,
}

impl Scenario {
    /// Every scenario, in the order of its name list.
    pub const ALL: [Scenario; 5] = [
        Scenario::Clean,
        Scenario::Expired,
        Scenario::Mismatch,
        Scenario::Tampered,
        Scenario::Mixed,
    ];

    /// The lower-case name ("clean", "expired", ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::Expired => "expired",
            Scenario::Mismatch => "mismatch",
            Scenario::Tampered => "tampered",
            Scenario::Mixed => "mixed",
        }
    }

    /// The concrete scenario used for submission `index`: itself, or for `Mixed`
    /// Clean, Expired, Mismatch, Tampered by `index % 4`.
    pub fn for_index(self, index: u64) -> Scenario {
        match self {
            Scenario::Mixed => [
                Scenario::Clean,
                Scenario::Expired,
                Scenario::Mismatch,
                Scenario::Tampered,
            ][(index % 4) as usize],
            s => s,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Scenario::from_str`]; its message lists the valid names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseScenarioError {
    input: String,
}

impl fmt::Display for ParseScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scenario::ALL.iter().map(Scenario::as_str).collect();
        write!(
            f,
            "unknown scenario {:?}: expected one of {}",
            self.input,
            names.join(", ")
        )
    }
}

impl std::error::Error for ParseScenarioError {}

impl FromStr for Scenario {
    type Err = ParseScenarioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseScenarioError {
                input: s.to_string(),
            })
    }
}

/// The current date, passed in by the caller (the crate never reads a clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Today {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Today {
    /// The UTC date of a Unix timestamp, e.g. from `SystemTime::now()`.
    pub fn from_unix_seconds(secs: i64) -> Today {
        let d = date::Date::from_days(secs.div_euclid(86_400));
        Today {
            year: d.y,
            month: d.m,
            day: d.d,
        }
    }

    /// As an internal date, with out-of-range month/day clamped.
    pub(crate) fn date(&self) -> date::Date {
        date::Date::new(self.year, self.month, self.day)
    }
}

/// One generated KYC request as Ditto ID's IDV Server would POST it.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The concrete scenario (never `Mixed`).
    pub scenario: Scenario,
    /// `request_info.requester_id`: UUID-looking, from seed, index and scenario.
    pub requester_id: String,
    /// `request_info.user_id`: an e-mail address or a mobile number.
    pub user_id: String,
    /// The holder's true surname and given names in natural case with diacritics, as in
    /// `identity_data` ("Bērziņa", "Anna"). In Mismatch the visual zone may print another surname.
    pub surname: String,
    pub given_names: String,
    /// `identity_data["Document number"]`.
    pub document_number: String,
    /// The full Ditto ID default payload v3.0.
    pub payload: serde_json::Value,
}

/// Generates submission `index` of `scenario` for `seed`, relative to `today`.
pub fn generate(scenario: Scenario, index: u64, seed: u64, today: &Today) -> Submission {
    payload::build(scenario, index, seed, today, Pictures::Drawn)
}

/// Whether a submission's images are drawn (documents, portrait, selfie) or left as one small grey
/// placeholder each, for callers that read only its text: the text is the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pictures {
    /// Every image drawn and JPEG-encoded, as `generate` does (the costly part).
    Drawn,
    /// An 8×8 grey JPEG in place of every image.
    Placeholders,
}

/// Like [`generate`], with the images as `pictures` says.
pub fn generate_with(
    scenario: Scenario,
    index: u64,
    seed: u64,
    today: &Today,
    pictures: Pictures,
) -> Submission {
    payload::build(scenario, index, seed, today, pictures)
}

/// Submissions `0..count`.
pub fn generate_many(scenario: Scenario, count: u64, seed: u64, today: &Today) -> Vec<Submission> {
    (0..count)
        .map(|i| generate(scenario, i, seed, today))
        .collect()
}

/// ICAO 9303 check digit (weights 7, 3, 1; `<` = 0, `A` = 10 .. `Z` = 35).
pub fn mrz_check_digit(s: &str) -> u8 {
    mrz::check_digit(s)
}
