//! XMLTV (<http://wiki.xmltv.org/index.php/XMLTVFormat>, the DTD in Debian's xmltv-util):
//! the guide written for apps (`xmltv.php`, `/epg.xml`), and read from a file or URL for
//! channels whose broadcaster sends no EIT.

use crate::event::Event;

/// A `<channel>` to write.
#[derive(Clone, Debug)]
pub struct XmltvChannel<'a> {
    /// The id programmes refer to; the same string as the M3U `tvg-id` and XC
    /// `epg_channel_id`.
    pub id: &'a str,
    pub display_name: &'a str,
    /// Channel number, written as a second display-name (as tv_grab_* do).
    pub number: Option<u16>,
    pub icon: Option<&'a str>,
}

/// Writes a complete XMLTV document: `<tv generator-info-name=…>`, every channel, then
/// for each channel its programmes (start/stop as "YYYYMMDDhhmmss +0000"; title, sub-title
/// from the short text when a description also exists, desc, categories from the genres,
/// episode-num, rating). Text is escaped; control characters that XML 1.0 forbids are
/// dropped.
pub fn write<'a>(
    out: &mut String,
    generator: &str,
    channels: &[XmltvChannel<'a>],
    programmes: impl Fn(&str) -> Vec<&'a Event>,
) {
    let _ = (out, generator, channels, programmes);
    todo!()
}

/// What an XMLTV document holds.
#[derive(Clone, Debug, Default)]
pub struct XmltvDocument {
    /// (id, display names).
    pub channels: Vec<(String, Vec<String>)>,
    /// (channel id, programme).
    pub programmes: Vec<(String, Event)>,
}

#[derive(Debug, thiserror::Error)]
pub enum XmltvError {
    #[error("XMLTV is not well-formed at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("XMLTV programme {index}: {message}")]
    Programme { index: usize, message: String },
    #[error("XMLTV document too large: more than {0} programmes")]
    TooLarge(usize),
}

/// Reads an XMLTV document. Programmes with an unreadable start or stop are skipped and
/// counted in the error only if none is readable; at most `max_programmes` are read.
pub fn parse(bytes: &[u8], max_programmes: usize) -> Result<XmltvDocument, XmltvError> {
    let _ = (bytes, max_programmes);
    todo!()
}
