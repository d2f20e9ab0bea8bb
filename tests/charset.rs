//! Charset choices end to end, through the real hub and RabbitMQ: `encoding = "detect"` reads a
//! GBK and a Big5 file dropped into one folder, and `invalid_bytes = "replace"` publishes a row
//! with a bad byte (logged with its byte offset) instead of dead-lettering it.

mod common;

use common::{Broker, Deployment, eventually, with_broker};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Two text columns, keyed by `store`.
const STORES: &str = "type = \"test.charset.store.v1\"\nkey = [\"store\"]\n[fields]\n\
                      store = { from = \"store\", required = true }\nname = { from = \"name\" }\n";

const SIMPLIFIED: &str = "store,name\n0101,上海浦东新区世纪大道店\n0102,北京朝阳区望京店\n\
                          0103,广州天河区体育西路店\n0104,康师傅红烧牛肉面专柜\n";
const TRADITIONAL: &str = "store,name\n0201,臺北市信義區忠孝東路店\n0202,高雄市前鎮區中華五路店\n\
                           0203,臺中市西屯區逢甲店\n0204,統一肉燥麵專櫃\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_reads_mixed_charsets_and_replace_publishes_bad_bytes() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("charset");
        broker.owns(&d);
        d.mapping("stores", STORES);
        d.file_connector(
            "mixed",
            "stores",
            "type = \"csv\"\nencoding = \"detect\"\nheader = true",
        );
        d.file_connector(
            "lenient",
            "stores",
            "type = \"csv\"\ninvalid_bytes = \"replace\"\nheader = true",
        );
        let queue = broker.bound_queue(&d.exchange, "test.charset.#").await;
        let hub = d.start(None);

        let gbk = encoding_rs::GBK.encode(SIMPLIFIED).0;
        let big5 = encoding_rs::BIG5.encode(TRADITIONAL).0;
        d.drop_file("mixed", "simplified.csv", &gbk);
        d.drop_file("mixed", "traditional.csv", &big5);
        d.drop_file(
            "lenient",
            "bad.csv",
            b"store,name\n0301,caf\xE9 noir\n0302,ok\n",
        );

        let got = broker.take(&queue, 10, WAIT).await;
        assert_eq!(got.len(), 10, "hub log:\n{}", hub.log_text());
        let name_of = |store: &str| {
            got.iter()
                .map(|m| m.json())
                .find(|data| data["store"] == store)
                .map(|data| data["name"].as_str().unwrap_or_default().to_string())
                .unwrap_or_else(|| panic!("no event for store {store}"))
        };
        assert_eq!(name_of("0101"), "上海浦东新区世纪大道店");
        assert_eq!(name_of("0204"), "統一肉燥麵專櫃");
        assert_eq!(name_of("0301"), "caf\u{FFFD} noir");
        assert_eq!(name_of("0302"), "ok");
        let log_says = eventually(WAIT, || {
            hub.log_text()
                .contains("invalid UTF-8 byte sequence 0xE9 at byte offset 19 replaced")
        })
        .await;
        assert!(log_says, "hub log:\n{}", hub.log_text());
        let finished = ["simplified.csv", "traditional.csv"]
            .iter()
            .all(|f| d.spool("mixed").join("done").join(f).exists());
        assert!(finished, "hub log:\n{}", hub.log_text());
    })
    .await;
}
