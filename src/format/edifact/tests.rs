//! The decoder end to end: envelopes, positions, checks, charsets and hostile input.

use super::*;
use serde_json::Value;

const ORDERS: &str = "UNB+UNOA:2+SENDER:ZZ+RECEIVER:ZZ+240311:0149+36790'\n\
UNH+1+ORDERS:D:96A:UN:EAN008'\n\
BGM+220+PO-1+9'\n\
DTM+137:20240311:102'\n\
NAD+BY+1111111111111::9'\n\
NAD+SU+2222222222222::9'\n\
LIN+1++8710103931935:EN'\n\
QTY+21:38'\n\
PRI+AAA:75.55'\n\
LIN+2++8710103931942:EN'\n\
QTY+21:2'\n\
UNS+S'\n\
UNT+12+1'\n\
UNZ+1+36790'\n";

fn decode_with(spec: &EdifactSpec, input: &[u8]) -> Vec<Result<Record, DecodeError>> {
    decoder(spec, input, "edi".into(), "in.edi".into()).collect()
}

fn decode(input: &[u8]) -> Vec<Result<Record, DecodeError>> {
    decode_with(&EdifactSpec::default(), input)
}

fn tree(item: &Result<Record, DecodeError>) -> &Value {
    match item {
        Ok(Record {
            body: Body::Tree(tree),
            ..
        }) => tree,
        other => panic!("not a tree: {other:?}"),
    }
}

fn record_error(item: &Result<Record, DecodeError>) -> &RecordError {
    match item {
        Err(DecodeError::Record(e)) => e,
        other => panic!("not a record error: {other:?}"),
    }
}

fn locator(origin: &Origin) -> &str {
    origin.locator.as_deref().unwrap_or_default()
}

#[test]
fn a_message_becomes_one_addressable_record() {
    let out = decode(ORDERS.as_bytes());
    assert_eq!(out.len(), 1);
    let t = tree(&out[0]);
    assert_eq!(t["NAD+BY"]["e2"]["c1"], "1111111111111");
    assert_eq!(t["BGM"][0]["e2"]["c1"], "PO-1");
    assert_eq!(t["DTM+137"]["e1"]["c2"], "20240311");
    assert_eq!(t["LIN"][1]["QTY+21"]["e1"]["c2"], "2");
    assert_eq!(t["LIN"][0]["PRI+AAA"]["e1"]["c2"], "75.55");
    assert_eq!(t["UNB"]["e2"]["c1"], "SENDER");
    assert_eq!(t["UNH"]["e2"]["c1"], "ORDERS");
    let Ok(record) = &out[0] else { unreachable!() };
    assert_eq!(record.origin.line, 2);
    assert_eq!(record.origin.offset, ORDERS.find("UNH").unwrap() as u64);
    assert_eq!(locator(&record.origin), "UNB 36790 / UNH 1");
    assert_eq!(record.origin.to_string(), "in.edi:2 (UNB 36790 / UNH 1)");
}

#[test]
fn interchanges_on_one_line_each_honour_their_una() {
    let one = "UNA:+.? 'UNB+UNOB:3+S+R+241028:0755+A1'UNH+M1+ORDERS:D:96A:UN'\
               FTX+PUR+++Achtung?: 10?+2'UNT+3+M1'UNZ+1+A1'";
    let two = "UNA^*.? $UNB*UNOB^3*S*R*241028^0755*A2$UNH*M2*ORDERS^D^96A^UN$\
               FTX*PUR***a+b:c$UNT*3*M2$UNZ*1*A2$";
    let input = format!("{one} {two}");
    let out = decode(input.as_bytes());
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(tree(&out[0])["FTX+PUR"]["e4"]["c1"], "Achtung: 10+2");
    assert_eq!(tree(&out[1])["FTX+PUR"]["e4"]["c1"], "a+b:c");
    let Ok(second) = &out[1] else { unreachable!() };
    assert_eq!(second.origin.line, 1);
    assert_eq!(second.origin.offset, input.find("UNH*M2").unwrap() as u64);
    assert_eq!(locator(&second.origin), "UNB A2 / UNH M2");
}

#[test]
fn a_wrong_unt_count_fails_that_message_only() {
    let input = ORDERS.replace("UNT+12+1'", "UNT+11+1'").replace(
        "UNZ+1+36790'",
        "UNH+2+ORDERS:D:96A:UN'BGM+220+PO-2+9'UNT+3+2'UNZ+2+36790'",
    );
    let out = decode(input.as_bytes());
    assert_eq!(out.len(), 2, "{out:?}");
    let error = record_error(&out[0]);
    assert!(
        error
            .reason
            .contains("UNT at line 13 says the message has \"11\" segments; it has 12"),
        "{}",
        error.reason
    );
    assert_eq!(error.origin.line, 2);
    assert_eq!(locator(&error.origin), "UNB 36790 / UNH 1, segment 12");
    let raw = String::from_utf8(error.raw.clone()).unwrap();
    assert!(
        raw.starts_with("UNH+1+ORDERS") && raw.ends_with("UNT+11+1'"),
        "{raw}"
    );
    assert_eq!(tree(&out[1])["BGM"][0]["e2"]["c1"], "PO-2");
}

#[test]
fn a_wrong_unt_reference_fails_the_message() {
    let input = ORDERS.replace("UNT+12+1'", "UNT+12+7'");
    let out = decode(input.as_bytes());
    let error = record_error(&out[0]);
    assert!(
        error.reason.contains("closes message \"7\"") && error.reason.contains("\"1\""),
        "{}",
        error.reason
    );
}

#[test]
fn a_wrong_unz_count_is_a_record_error_after_the_messages() {
    let input = ORDERS.replace("UNZ+1+36790'", "UNZ+3+36790'");
    let out = decode(input.as_bytes());
    assert_eq!(out.len(), 2);
    assert!(out[0].is_ok());
    let error = record_error(&out[1]);
    assert!(
        error
            .reason
            .contains("UNZ at line 14 says the interchange holds \"3\" messages; it holds 1"),
        "{}",
        error.reason
    );
    assert_eq!(error.origin.line, 14);
    assert_eq!(locator(&error.origin), "UNB 36790 / UNZ");
    assert_eq!(error.raw, b"UNZ+3+36790'");
}

#[test]
fn a_truncated_file_is_fatal_and_names_the_open_message() {
    let cut = &ORDERS[..ORDERS.find("UNS").unwrap()];
    let out = decode(cut.as_bytes());
    assert_eq!(out.len(), 1);
    match &out[0] {
        Err(DecodeError::Input { line, reason }) => {
            assert_eq!(*line, 12);
            assert!(
                reason.contains("inside message UNH 1 (UNH at line 2)"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let no_unz = &ORDERS[..ORDERS.find("UNZ").unwrap()];
    let out = decode(no_unz.as_bytes());
    assert!(out[0].is_ok());
    assert!(
        matches!(&out[1], Err(DecodeError::Input { reason, .. }) if reason.contains("no UNZ")),
        "{out:?}"
    );
}

#[test]
fn gbk_text_is_read_with_the_encoding_key() {
    let text = "UNB+UNOA:3+S+R+240311:0149+9'UNH+1+ORDERS:D:96A:UN'\n\
                IMD+F++:::康师傅红烧牛肉面'\nUNT+3+1'UNZ+1+9'";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let spec = EdifactSpec {
        encoding: Some(encoding_rs::GBK),
        ..EdifactSpec::default()
    };
    let out = decode_with(&spec, &gbk);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(tree(&out[0])["IMD+F"]["e3"]["c4"], "康师傅红烧牛肉面");
}

#[test]
fn bytes_the_charset_cannot_read_fail_their_message_with_the_offset() {
    let text = "UNB+UNOA:3+S+R+240311:0149+9'UNH+1+ORDERS:D:96A:UN'\n\
                IMD+F++:::康师傅'\nUNT+3+1'UNZ+1+9'";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let out = decode(&gbk);
    let error = record_error(&out[0]);
    assert!(
        error
            .reason
            .starts_with("line 2: invalid UTF-8 byte sequence"),
        "{}",
        error.reason
    );
    assert!(
        error.reason.contains("at byte offset 62")
            && error.reason.contains("syntax identifier UNOA"),
        "{}",
        error.reason
    );
    assert_eq!(locator(&error.origin), "UNB 9 / UNH 1, segment 2");
}

#[test]
fn unoc_is_read_as_latin1_and_a_bom_wins() {
    let latin1 = b"UNB+UNOC:3+S+R+1:1+9'UNH+1+X:D:96A:UN'NAD+SE+++Stra\xDFe'UNT+3+1'UNZ+1+9'";
    let out = decode(latin1);
    assert_eq!(tree(&out[0])["NAD+SE"]["e4"]["c1"], "Straße");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(
        "UNB+UNOC:3+S+R+1:1+9'UNH+1+X:D:96A:UN'NAD+SE+++Straße'UNT+3+1'UNZ+1+9'".as_bytes(),
    );
    let out = decode(&bom);
    assert_eq!(tree(&out[0])["NAD+SE"]["e4"]["c1"], "Straße");
    let Ok(record) = &out[0] else { unreachable!() };
    assert_eq!(record.origin.offset, 24);
}

#[test]
fn input_that_is_not_edifact_is_refused_at_once() {
    let out = decode(b"\x00\x01garbage\xFF\xFE'more'");
    assert_eq!(out.len(), 1);
    assert!(
        matches!(&out[0], Err(DecodeError::Input { line: 1, reason }) if reason.contains("not EDIFACT")),
        "{out:?}"
    );
    let out = decode(b"STX=ANA:1+5000000000000:SOME STORES'MHD=1+ORDHDR:9'");
    assert!(
        matches!(&out[0], Err(DecodeError::Input { reason, .. }) if reason.contains("TRADACOMS")),
        "{out:?}"
    );
}

#[test]
fn a_message_past_the_limit_fails_and_the_next_one_is_read() {
    let big = format!(
        "UNH+1+X:D:96A:UN'{}UNT+1002+1'UNH+2+X:D:96A:UN'BGM+220+B'UNT+3+2'",
        "FTX+AAI+++0123456789'".repeat(1000)
    );
    let spec = EdifactSpec {
        max_message_bytes: 4096,
        ..EdifactSpec::default()
    };
    let out = decode_with(&spec, big.as_bytes());
    assert_eq!(out.len(), 2, "{out:?}");
    let error = record_error(&out[0]);
    assert!(
        error.reason.contains("longer than 4096 bytes"),
        "{}",
        error.reason
    );
    assert_eq!(error.raw.len(), 4096);
    assert_eq!(locator(&error.origin), "UNH 1, segment 1002");
    assert_eq!(tree(&out[1])["BGM"][0]["e2"]["c1"], "B");
    let endless = format!("UNH+1+X:D:96A:UN'FTX+{}", "x".repeat(10_000));
    let out = decode_with(&spec, endless.as_bytes());
    assert!(
        matches!(
            out.last(),
            Some(Err(DecodeError::Oversized { line: 1, .. }))
        ),
        "{out:?}"
    );
}

#[test]
fn segments_outside_messages_are_record_errors_and_reading_goes_on() {
    let input = "UNA:+.? '\nBGM+999+PO+9'\nUNH+1+ORDERS:D:11A:UN'\nBGM+220+PO+9'\nUNT+3+1'\n1r";
    let out = decode(input.as_bytes());
    assert_eq!(out.len(), 3, "{out:?}");
    let stray = record_error(&out[0]);
    assert!(
        stray
            .reason
            .contains("segment BGM at line 2 is outside any message")
    );
    assert_eq!(stray.origin.locator, None);
    assert_eq!(tree(&out[1])["BGM+220"]["e2"]["c1"], "PO");
    let junk = record_error(&out[2]);
    assert!(
        junk.reason.contains("\"1r\" at line 6 is not a segment"),
        "{}",
        junk.reason
    );
}

#[test]
fn functional_groups_show_in_the_locator_and_their_count_is_checked() {
    let input = "UNB+UNOA:3+S+R+1:1+9'UNG+ORDERS+S+R+1:1+G1+UN+D:96A'\
                 UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNE+2+G1'UNZ+1+9'";
    let out = decode(input.as_bytes());
    assert_eq!(out.len(), 2, "{out:?}");
    let Ok(record) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(locator(&record.origin), "UNB 9 / UNG G1 / UNH 1");
    assert_eq!(tree(&out[0])["UNG"]["e1"]["c1"], "ORDERS");
    let error = record_error(&out[1]);
    assert!(
        error.reason.contains("holds \"2\" messages; it holds 1"),
        "{}",
        error.reason
    );
    assert_eq!(locator(&error.origin), "UNB 9 / UNG G1 / UNE");
}

#[test]
fn a_new_interchange_before_unt_fails_the_open_message_and_interchange() {
    let input = "UNB+UNOA:3+S+R+1:1+9'UNH+1+X:D:96A:UN'BGM+220+A'\n\
                 UNB+UNOA:3+S+R+1:1+10'UNH+1+X:D:96A:UN'UNT+2+1'UNZ+1+10'";
    let out = decode(input.as_bytes());
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(
        record_error(&out[0])
            .reason
            .contains("no UNT: a UNB at line 2")
    );
    assert!(
        record_error(&out[1])
            .reason
            .contains("interchange UNB 9 (UNB at line 1) has no UNZ")
    );
    assert!(out[2].is_ok());
}

#[test]
fn detect_guesses_when_the_syntax_identifier_names_no_charset_and_replace_keeps_messages() {
    let text = "UNB+IATB:3+S+R+240311:0149+9'UNH+1+ORDERS:D:96A:UN'\n\
                IMD+F++:::康师傅红烧牛肉面'\nNAD+BY+++上海浦东世纪大道店'\nNAD+SU+++北京朝阳区望京店'\n\
                UNT+5+1'UNZ+1+9'";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let detecting = EdifactSpec {
        charset: crate::format::charset::Charset {
            detect: true,
            ..Default::default()
        },
        ..EdifactSpec::default()
    };
    let out = decode_with(&detecting, &gbk);
    assert_eq!(
        tree(&out[0])["IMD+F"]["e3"]["c4"],
        "康师傅红烧牛肉面",
        "{out:?}"
    );
    let unoa = text.replace("IATB", "UNOA");
    let (gbk, _, _) = encoding_rs::GBK.encode(&unoa);
    let out = decode_with(&detecting, &gbk);
    assert!(
        matches!(&out[0], Err(DecodeError::Record(_))),
        "UNOA names UTF-8: {out:?}"
    );
    let replacing = EdifactSpec {
        charset: crate::format::charset::Charset {
            invalid: crate::format::charset::InvalidBytes::Replace,
            ..Default::default()
        },
        ..EdifactSpec::default()
    };
    let out = decode_with(&replacing, &gbk);
    assert!(
        tree(&out[0])["IMD+F"]["e3"]["c4"]
            .as_str()
            .unwrap()
            .contains('\u{FFFD}')
    );
}
