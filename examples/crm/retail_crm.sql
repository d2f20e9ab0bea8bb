-- CRM / membership (MariaDB): the members and points-ledger tables the crm-members and
-- crm-points connectors poll, with a few rows. Load with: mysql -u root < examples/crm/retail_crm.sql
CREATE DATABASE IF NOT EXISTS retail_crm DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE retail_crm;

CREATE TABLE IF NOT EXISTS members (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  member_no   VARCHAR(20)  NOT NULL UNIQUE,
  name        VARCHAR(50)  NOT NULL,
  gender      ENUM('M', 'F', 'U') NOT NULL DEFAULT 'U',
  birthday    DATE         NULL,
  mobile      VARCHAR(20)  NULL,
  email       VARCHAR(100) NULL,
  province    VARCHAR(20)  NULL,
  city        VARCHAR(20)  NULL,
  district    VARCHAR(20)  NULL,
  address     VARCHAR(200) NULL,
  status      TINYINT      NOT NULL DEFAULT 1 COMMENT '1 正常, 2 冻结, 9 注销',
  sms_optin   TINYINT(1)   NOT NULL DEFAULT 0,
  updated_at  DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  KEY idx_members_updated (updated_at, id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS points_ledger (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  log_no      VARCHAR(24)  NOT NULL UNIQUE,
  member_no   VARCHAR(20)  NOT NULL,
  change_type ENUM('EARN', 'REDEEM', 'EXPIRE', 'ADJUST', 'REFUND') NOT NULL,
  points      INT          NOT NULL COMMENT '正数为增加，负数为扣减',
  balance     INT          NOT NULL,
  ref_no      VARCHAR(40)  NULL COMMENT '小票号或订单号',
  store_code  VARCHAR(10)  NULL,
  expire_date DATE         NULL,
  created_at  DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY idx_points_created (created_at, id)
) ENGINE = InnoDB;

INSERT INTO members (member_no, name, gender, birthday, mobile, email, province, city, district, address, status, sms_optin, updated_at) VALUES
  ('M88001234', '张伟', 'M', '1986-07-12', '13812345678', 'zhangwei86@example.com', '上海市', '上海市', '浦东新区', '张杨路 1000 弄 5 号 602 室', 1, 1, '2024-03-01 10:20:31'),
  ('M88004512', '刘建国', 'M', '1979-11-03', '13588047216', NULL, '浙江省', '宁波市', '鄞州区', '天童南路 588 号', 1, 0, '2024-03-01 19:20:05'),
  ('M88006630', '王秀英', 'F', NULL, '13698765432', NULL, NULL, NULL, NULL, NULL, 2, 0, '2024-03-02 08:45:00');

INSERT INTO points_ledger (log_no, member_no, change_type, points, balance, ref_no, store_code, expire_date, created_at) VALUES
  ('PL202403010000871', 'M88001234', 'EARN', 1099, 3521, 'R20240301-0002', 'SH-001', '2025-12-31', '2024-03-01 23:58:20'),
  ('PL202403020000112', 'M88001234', 'REDEEM', -500, 3021, 'R20240302-0458', 'SH-001', NULL, '2024-03-02 15:21:40'),
  ('PL202403020000113', 'M88004512', 'ADJUST', 200, 1460, NULL, NULL, NULL, '2024-03-02 16:00:00');
