-- Distribution platform (分销平台, MariaDB): the order header and order line tables distributors'
-- orders are written to, which the distribution-orders connector polls (one row per order line,
-- joined to its header), with a few rows. Load with:
--   mysql -u root < examples/distribution/retail_dist.sql
CREATE DATABASE IF NOT EXISTS retail_dist DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE retail_dist;

CREATE TABLE IF NOT EXISTS fx_order (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_no      VARCHAR(24)   NOT NULL UNIQUE,
  dealer_code   VARCHAR(12)   NOT NULL COMMENT '分销商编码',
  dealer_name   VARCHAR(60)   NOT NULL COMMENT '分销商名称',
  order_time    DATETIME      NOT NULL COMMENT '下单时间（北京时间）',
  status        TINYINT       NOT NULL DEFAULT 10 COMMENT '10 待审核, 20 已审核, 30 已发货, 90 已取消',
  currency      CHAR(3)       NOT NULL DEFAULT 'CNY',
  goods_amount  DECIMAL(12,2) NOT NULL COMMENT '商品金额',
  freight       DECIMAL(12,2) NOT NULL DEFAULT 0.00 COMMENT '运费',
  rebate        DECIMAL(12,2) NOT NULL DEFAULT 0.00 COMMENT '返利抵扣',
  pay_amount    DECIMAL(12,2) NOT NULL COMMENT '应付金额',
  consignee     VARCHAR(30)   NULL,
  mobile        VARCHAR(20)   NULL,
  province      VARCHAR(20)   NULL,
  city          VARCHAR(20)   NULL,
  district      VARCHAR(20)   NULL,
  address       VARCHAR(200)  NULL,
  postcode      VARCHAR(10)   NULL,
  remark        VARCHAR(200)  NULL,
  created_at    DATETIME      NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at    DATETIME      NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  KEY idx_fx_order_updated (updated_at, id)
) ENGINE = InnoDB;

-- Lines are written with their header in one transaction, line_no from 1 (at most 999 lines).
CREATE TABLE IF NOT EXISTS fx_order_item (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_id    BIGINT UNSIGNED NOT NULL,
  line_no     SMALLINT UNSIGNED NOT NULL,
  sku_code    VARCHAR(20)   NOT NULL,
  barcode     VARCHAR(14)   NULL COMMENT 'EAN-13',
  goods_name  VARCHAR(100)  NOT NULL,
  unit        VARCHAR(8)    NOT NULL DEFAULT '箱',
  qty         DECIMAL(12,3) NOT NULL,
  unit_price  DECIMAL(12,2) NOT NULL COMMENT '分销价',
  amount      DECIMAL(12,2) NOT NULL,
  UNIQUE KEY uk_fx_order_item (order_id, line_no),
  CONSTRAINT fk_fx_order_item_order FOREIGN KEY (order_id) REFERENCES fx_order (id)
) ENGINE = InnoDB;

INSERT INTO fx_order (id, order_no, dealer_code, dealer_name, order_time, status, currency, goods_amount, freight, rebate, pay_amount, consignee, mobile, province, city, district, address, postcode, remark, created_at, updated_at) VALUES
  (1001, 'FX20240301000127', 'FX-3302', '杭州西湖百货分销有限公司', '2024-03-01 09:12:45', 20, 'CNY', 2106.00, 30.00, 0.00, 2136.00, '王芳', '13757112345', '浙江省', '杭州市', '西湖区', '文三路 259 号 昌地火炬大厦 1 号楼 3 楼', '310012', '周末可收货', '2024-03-01 09:12:45', '2024-03-01 09:30:02'),
  (1002, 'FX20240301000133', 'FX-2108', '苏州姑苏商贸有限公司', '2024-03-01 10:05:18', 20, 'CNY', 1288.00, 0.00, 64.40, 1223.60, '陈志强', '13913578642', '江苏省', '苏州市', '姑苏区', '人民路 1588 号 物流仓 B 区', '215005', NULL, '2024-03-01 10:05:18', '2024-03-01 10:20:47'),
  (1003, 'FX20240301000140', 'FX-4415', '合肥徽商连锁经营有限公司', '2024-03-01 11:40:09', 10, 'CNY', 715.00, 15.00, 0.00, 730.00, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-03-01 11:40:09', '2024-03-01 11:40:09'),
  (1004, 'FX20240301000152', 'FX-2108', '苏州姑苏商贸有限公司', '2024-03-01 13:02:51', 90, 'CNY', 520.00, 0.00, 0.00, 520.00, '陈志强', '13913578642', '江苏省', '苏州市', '姑苏区', '人民路 1588 号 物流仓 B 区', '215005', '重复下单，已取消', '2024-03-01 13:02:51', '2024-03-01 13:15:30');

INSERT INTO fx_order_item (order_id, line_no, sku_code, barcode, goods_name, unit, qty, unit_price, amount) VALUES
  (1001, 1, '10023460', '6951234007775', '农夫山泉 饮用天然水 550ml×24瓶', '箱', 30.000, 36.00, 1080.00),
  (1001, 2, '10031877', '6902541001284', '康师傅 红烧牛肉面 五连包×6', '箱', 12.000, 58.00, 696.00),
  (1001, 3, '10045102', '6923456700123', '金龙鱼 黄金比例食用调和油 5L×4桶', '箱', 2.000, 165.00, 330.00),
  (1002, 1, '10052290', '6930066003582', '蒙牛 纯牛奶 250ml×24盒', '箱', 20.000, 52.00, 1040.00),
  (1002, 2, '10060415', '6901803100420', '海天 金标生抽 1.28L×6瓶', '箱', 4.000, 62.00, 248.00),
  (1003, 1, '10071136', '6943215002169', '心相印 抽纸 3层130抽×24包', '箱', 5.000, 89.00, 445.00),
  (1003, 2, '10082007', '6970123000871', '立白 天然皂粉 2.25kg×6袋', '箱', 3.000, 90.00, 270.00),
  (1004, 1, '10052290', '6930066003582', '蒙牛 纯牛奶 250ml×24盒', '箱', 10.000, 52.00, 520.00);
