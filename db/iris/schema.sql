-- db/iris/schema.sql — test and demo fixture: the structure of Iris's own MySQL database.
--
-- Place: this is NOT the sender's schema. Iris (API + UI) owns these tables in production; the
-- serverless sender only reads and writes them. The fixture exists so tests, the local stack and
-- the demo have a database shaped exactly like production: same table and column names, same
-- types, same primary/unique keys, indexes and foreign keys as linkedin/iris db/schema_0.sql.
-- The sender's own tables live in db/migrations/ and never alter anything defined here.
--
-- Deliberate differences from upstream (none changes what the sender can observe):
--   * no CREATE SCHEMA/USE: the caller picks the database (scripts/db.sh load-iris DBNAME);
--   * CREATE TABLE IF NOT EXISTS and tables ordered parents-first, so loading twice is harmless
--     and foreign key checks stay on during the load.
-- Character sets are upstream's, table by table: 44 tables are latin1, and `message_changelog`,
-- which upstream creates without one, takes the database default Iris's CREATE SCHEMA sets
-- (utf8, i.e. utf8mb3). Text outside latin-1 (or a 4-byte character in the changelog) is refused
-- by such a column in strict mode, so the tests see what production sees (docs/reliability.md).
-- Upstream quirks kept on purpose, because production has them: `message` has no foreign keys,
-- `dynamic_plan_map.incident_id` carries AUTO_INCREMENT, both `twilio_retry` constraints point
-- at `message_id` (none at `retry_id`), `mailing_list_membership` is keyed by list then user.
--
-- Load with: scripts/db.sh load-iris DBNAME

SET NAMES utf8mb4;

-- ---------------------------------------------------------------------------------------------
-- Delivery modes and recipients
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS `mode` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name_idx` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `target_type` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- A recipient of any type (user, team, mailing list); names are unique per type only.
CREATE TABLE IF NOT EXISTS `target` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `type_id` INT NOT NULL,
  `active` TINYINT(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name_type_idx` (`name`, `type_id`),
  KEY `active_index` (`active`),
  CONSTRAINT `target_ibfk_1` FOREIGN KEY (`type_id`) REFERENCES `target_type` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Role names used in plan steps (user, manager, oncall-primary…); several roles share a type.
CREATE TABLE IF NOT EXISTS `target_role` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `type_id` INT NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name_idx` (`name`),
  KEY `ix_target_role_type_id` (`type_id`),
  CONSTRAINT `target_role_ibfk_1` FOREIGN KEY (`type_id`) REFERENCES `target_type` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `user` (
  `target_id` BIGINT NOT NULL,
  `admin` TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (`target_id`),
  CONSTRAINT `user_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `team` (
  `target_id` BIGINT NOT NULL,
  `manager_id` BIGINT DEFAULT NULL,
  `director_id` BIGINT DEFAULT NULL,
  PRIMARY KEY (`target_id`),
  UNIQUE KEY `target_id` (`target_id`),
  KEY `manager_id` (`manager_id`),
  KEY `director_id` (`director_id`),
  CONSTRAINT `team_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`),
  CONSTRAINT `team_ibfk_2` FOREIGN KEY (`manager_id`) REFERENCES `user` (`target_id`),
  CONSTRAINT `team_ibfk_3` FOREIGN KEY (`director_id`) REFERENCES `user` (`target_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `user_setting` (
  `user_id` BIGINT NOT NULL,
  `name` VARCHAR(255) NOT NULL,
  `value` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`user_id`, `name`),
  CONSTRAINT `user_setting_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `user_team` (
  `user_id` BIGINT NOT NULL,
  `team_id` BIGINT NOT NULL,
  PRIMARY KEY (`user_id`, `team_id`),
  KEY `ix_user_team_team_id` (`team_id`),
  CONSTRAINT `user_team_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `user` (`target_id`),
  CONSTRAINT `user_team_ibfk_2` FOREIGN KEY (`team_id`) REFERENCES `team` (`target_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `oncall_team` (
  `target_id` BIGINT NOT NULL,
  `oncall_team_id` BIGINT NOT NULL,
  PRIMARY KEY (`target_id`),
  UNIQUE KEY `oncall_team_id_idx` (`oncall_team_id`),
  CONSTRAINT `oncall_team_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- `count` is the list size the role lookup compares with ldap_lists.max_unrolled_users.
CREATE TABLE IF NOT EXISTS `mailing_list` (
  `target_id` BIGINT NOT NULL,
  `count` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (`target_id`),
  CONSTRAINT `mailing_list_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `mailing_list_membership` (
  `list_id` BIGINT NOT NULL,
  `user_id` BIGINT NOT NULL,
  PRIMARY KEY (`list_id`, `user_id`),
  CONSTRAINT `mailing_list_membership_list_id_ibfk` FOREIGN KEY (`list_id`)
    REFERENCES `mailing_list` (`target_id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `mailing_list_membership_user_id_ibfk` FOREIGN KEY (`user_id`)
    REFERENCES `user` (`target_id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Where a target is reached in each mode (phone number, address, Slack handle…).
CREATE TABLE IF NOT EXISTS `target_contact` (
  `target_id` BIGINT NOT NULL,
  `mode_id` INT NOT NULL,
  `destination` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`target_id`, `mode_id`),
  KEY `ix_target_contact_mode_id` (`mode_id`),
  CONSTRAINT `target_contact_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `target_contact_ibfk_2` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Each priority names the mode used when no more specific preference exists.
CREATE TABLE IF NOT EXISTS `priority` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name_idx` (`name`),
  KEY `ix_priority_mode_id` (`mode_id`),
  CONSTRAINT `priority_ibfk_1` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `device` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `registration_id` VARCHAR(255) NOT NULL UNIQUE,
  `user_id` BIGINT NOT NULL,
  `platform` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`id`),
  CONSTRAINT `device_user_id_ibfk` FOREIGN KEY (`user_id`) REFERENCES `user` (`target_id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- ---------------------------------------------------------------------------------------------
-- Applications (the producers of incidents and notifications) and their settings
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS `application` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `key` VARCHAR(64) NOT NULL,
  `context_template` TEXT,
  `summary_template` TEXT,
  `sample_context` TEXT,
  `mobile_template` TEXT,
  `auth_only` TINYINT(1) DEFAULT 0,
  `allow_other_app_incidents` TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  `allow_authenticating_users` TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  `secondary_key` VARCHAR(64),
  PRIMARY KEY (`id`),
  UNIQUE KEY `name_idx` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- The modes an application may deliver through; priority resolution discards any other mode.
CREATE TABLE IF NOT EXISTS `application_mode` (
  `application_id` INT NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`application_id`, `mode_id`),
  CONSTRAINT `application_mode_application_id_ibfk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `application_mode_mode_id_ibfk` FOREIGN KEY (`mode_id`)
    REFERENCES `mode` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `application_owner` (
  `application_id` INT NOT NULL,
  `user_id` BIGINT NOT NULL,
  PRIMARY KEY (`application_id`, `user_id`),
  CONSTRAINT `application_owner_application_id_ibfk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `application_owner_user_id_ibfk` FOREIGN KEY (`user_id`)
    REFERENCES `user` (`target_id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Per application and mode "From" override used by the email vendor.
CREATE TABLE IF NOT EXISTS `application_custom_sender_address` (
  `application_id` INT NOT NULL,
  `mode_id` INT NOT NULL,
  `sender_address` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`application_id`, `mode_id`),
  CONSTRAINT `application_custom_sender_address_id_ibfk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `application_custom_sender_address_mode_id_ibfk` FOREIGN KEY (`mode_id`)
    REFERENCES `mode` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- The context keys an application declares; the API keeps only these in incident.context.
CREATE TABLE IF NOT EXISTS `template_variable` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `application_id` INT NOT NULL,
  `name` VARCHAR(255) NOT NULL,
  `required` TINYINT(1) NOT NULL DEFAULT 0,
  `title_variable` TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  KEY `ix_template_variable_application_id` (`application_id`),
  CONSTRAINT `template_variable_ibfk_1` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Mode preference, most specific first: target+application+priority, application+priority
-- (default_application_mode), target+priority (target_mode), then priority.mode_id.
CREATE TABLE IF NOT EXISTS `target_application_mode` (
  `target_id` BIGINT NOT NULL,
  `application_id` INT NOT NULL,
  `priority_id` INT NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`target_id`, `application_id`, `priority_id`),
  KEY `application_mode_ibfk_2` (`application_id`),
  KEY `application_mode_ibfk_3` (`priority_id`),
  KEY `application_mode_ibfk_4` (`mode_id`),
  CONSTRAINT `target_application_mode_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `target_application_mode_ibfk_2` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`),
  CONSTRAINT `target_application_mode_ibfk_3` FOREIGN KEY (`priority_id`)
    REFERENCES `priority` (`id`),
  CONSTRAINT `target_application_mode_ibfk_4` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `default_application_mode` (
  `application_id` INT NOT NULL,
  `priority_id` INT NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`application_id`, `priority_id`),
  KEY `default_application_mode_ibfk_1` (`application_id`),
  KEY `default_application_mode_ibfk_2` (`priority_id`),
  KEY `default_application_mode_ibfk_3` (`mode_id`),
  CONSTRAINT `default_application_mode_ibfk_1` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`),
  CONSTRAINT `default_application_mode_ibfk_2` FOREIGN KEY (`priority_id`)
    REFERENCES `priority` (`id`),
  CONSTRAINT `default_application_mode_ibfk_3` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `target_mode` (
  `target_id` BIGINT NOT NULL,
  `priority_id` INT NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`target_id`, `priority_id`),
  KEY `priority_id` (`priority_id`),
  KEY `ix_target_mode_mode_id` (`mode_id`),
  CONSTRAINT `target_mode_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `target_mode_ibfk_2` FOREIGN KEY (`priority_id`) REFERENCES `priority` (`id`),
  CONSTRAINT `target_mode_ibfk_3` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- "More than `count` messages via src mode within `duration` seconds → use dst mode instead."
CREATE TABLE IF NOT EXISTS `target_reprioritization` (
  `target_id` BIGINT NOT NULL,
  `src_mode_id` INT NOT NULL,
  `dst_mode_id` INT NOT NULL,
  `count` TINYINT(5) UNSIGNED NOT NULL,
  `duration` SMALLINT UNSIGNED NOT NULL,
  PRIMARY KEY (`target_id`, `src_mode_id`),
  KEY `target_reprioritization_mode_src_mode_id_fk_idx` (`src_mode_id`),
  KEY `target_reprioritization_mode_dst_mode_id_fk_idx` (`dst_mode_id`),
  CONSTRAINT `target_reprioritization_mode_dst_mode_id_fk` FOREIGN KEY (`dst_mode_id`)
    REFERENCES `mode` (`id`) ON DELETE NO ACTION ON UPDATE NO ACTION,
  CONSTRAINT `target_reprioritization_mode_src_mode_id_fk` FOREIGN KEY (`src_mode_id`)
    REFERENCES `mode` (`id`) ON DELETE NO ACTION ON UPDATE NO ACTION,
  CONSTRAINT `target_reprioritization_target_id_fk` FOREIGN KEY (`target_id`)
    REFERENCES `target` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Users who opted into the carrier-safe SMS body (mode_id is stored but not consulted).
CREATE TABLE IF NOT EXISTS `mode_template_override` (
  `target_id` BIGINT NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`target_id`),
  CONSTRAINT `target_id_override_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `mode_id_override_ibfk_1` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `notification_category` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `application_id` INT NOT NULL,
  `name` VARCHAR(255) NOT NULL,
  `description` VARCHAR(255) NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`id`),
  KEY `ix_notification_category_app_id` (`application_id`),
  UNIQUE KEY `application_id` (`application_id`, `name`),
  CONSTRAINT `notification_category_app_id_ibfk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `notification_category_mode_id_ibfk` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `category_override` (
  `user_id` BIGINT NOT NULL,
  `category_id` BIGINT NOT NULL,
  `mode_id` INT NOT NULL,
  PRIMARY KEY (`user_id`, `category_id`),
  CONSTRAINT `category_override_user_id_ibfk` FOREIGN KEY (`user_id`)
    REFERENCES `user` (`target_id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `category_override_category_id_ibfk` FOREIGN KEY (`category_id`)
    REFERENCES `notification_category` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `category_override_mode_id_ibfk` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- ---------------------------------------------------------------------------------------------
-- Templates: immutable versions; template_active points each name at its current version
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS `template` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `created` DATETIME NOT NULL,
  `user_id` BIGINT NOT NULL,
  PRIMARY KEY (`id`),
  KEY `ix_template_name` (`name`),
  KEY `ix_template_user_id` (`user_id`),
  KEY `ix_template_created` (`created`),
  CONSTRAINT `template_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `user` (`target_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `template_active` (
  `name` VARCHAR(255) NOT NULL,
  `template_id` INT NOT NULL,
  PRIMARY KEY (`name`),
  UNIQUE KEY `template_id` (`template_id`),
  CONSTRAINT `template_active_ibfk_1` FOREIGN KEY (`template_id`) REFERENCES `template` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- The sender renders only `subject` and `body`; call/sms/im/email_* are legacy columns that
-- the UI may still fill and the sender ignores.
CREATE TABLE IF NOT EXISTS `template_content` (
  `template_id` INT NOT NULL,
  `application_id` INT NOT NULL,
  `mode_id` INT NOT NULL,
  `subject` VARCHAR(255) NOT NULL,
  `body` TEXT NOT NULL,
  `call` TEXT,
  `sms` TEXT,
  `im` TEXT,
  `email_subject` VARCHAR(255) DEFAULT NULL,
  `email_text` TEXT,
  `email_html` TEXT,
  PRIMARY KEY (`template_id`, `application_id`, `mode_id`),
  KEY `ix_template_content_template_id` (`template_id`),
  KEY `ix_template_content_application_id` (`application_id`),
  KEY `ix_template_content_mode_id` (`mode_id`),
  CONSTRAINT `template_content_ibfk_1` FOREIGN KEY (`template_id`) REFERENCES `template` (`id`),
  CONSTRAINT `template_content_ibfk_2` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`),
  CONSTRAINT `template_content_ibfk_3` FOREIGN KEY (`mode_id`) REFERENCES `mode` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- ---------------------------------------------------------------------------------------------
-- Plans: immutable versions; plan_active points each name at its current version
-- ---------------------------------------------------------------------------------------------

-- threshold_*/aggregation_* are seconds (counts for threshold_count); tracking_template is a
-- JSON text keyed by application name.
CREATE TABLE IF NOT EXISTS `plan` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `created` DATETIME NOT NULL,
  `user_id` BIGINT NOT NULL,
  `team_id` BIGINT DEFAULT NULL,
  `description` TEXT,
  `step_count` INT NOT NULL,
  `threshold_window` BIGINT DEFAULT NULL,
  `threshold_count` BIGINT DEFAULT NULL,
  `aggregation_window` BIGINT DEFAULT NULL,
  `aggregation_reset` BIGINT DEFAULT NULL,
  `tracking_key` VARCHAR(255) DEFAULT NULL,
  `tracking_type` VARCHAR(255) DEFAULT NULL,
  `tracking_template` TEXT,
  PRIMARY KEY (`id`),
  KEY `user_id` (`user_id`),
  KEY `team_id` (`team_id`),
  KEY `ix_plan_created` (`created`),
  CONSTRAINT `plan_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `user` (`target_id`),
  CONSTRAINT `plan_ibfk_2` FOREIGN KEY (`team_id`) REFERENCES `team` (`target_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `plan_active` (
  `name` VARCHAR(255) NOT NULL,
  `plan_id` BIGINT NOT NULL,
  PRIMARY KEY (`name`),
  UNIQUE KEY `plan_id` (`plan_id`),
  CONSTRAINT `plan_active_ibfk_1` FOREIGN KEY (`plan_id`) REFERENCES `plan` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- One recipient of one step. Neither role_id nor target_id → a dynamic slot filled per incident
-- from dynamic_plan_map by dynamic_index. `repeat`/`wait` drive repeats and escalation.
CREATE TABLE IF NOT EXISTS `plan_notification` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `plan_id` BIGINT NOT NULL,
  `step` INT NOT NULL,
  `template` VARCHAR(255) DEFAULT NULL,
  `target_id` BIGINT,
  `optional` TINYINT(1) NOT NULL DEFAULT 0,
  `role_id` INT,
  `priority_id` INT NOT NULL,
  `repeat` INT NOT NULL DEFAULT 0,
  `wait` INT NOT NULL DEFAULT 0,
  `dynamic_index` INT,
  PRIMARY KEY (`id`),
  KEY `ix_plan_notification_plan_id` (`plan_id`),
  KEY `ix_plan_notification_template` (`template`),
  KEY `ix_plan_notification_role_id` (`role_id`),
  KEY `ix_plan_notification_priority_id` (`priority_id`),
  KEY `ix_plan_notification_target_id` (`target_id`),
  CONSTRAINT `plan_notification_ibfk_1` FOREIGN KEY (`plan_id`) REFERENCES `plan` (`id`),
  CONSTRAINT `plan_notification_ibfk_2` FOREIGN KEY (`template`)
    REFERENCES `template_active` (`name`) ON UPDATE CASCADE ON DELETE SET NULL,
  CONSTRAINT `plan_notification_ibfk_3` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`),
  CONSTRAINT `plan_notification_ibfk_4` FOREIGN KEY (`role_id`) REFERENCES `target_role` (`id`),
  CONSTRAINT `plan_notification_ibfk_5` FOREIGN KEY (`priority_id`) REFERENCES `priority` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Quota per application; durations and wait_time are seconds. plan_name is paged on a hard
-- breach, target_id receives the soft-breach emails.
CREATE TABLE IF NOT EXISTS `application_quota` (
  `application_id` INT NOT NULL,
  `hard_quota_threshold` SMALLINT(5) NOT NULL,
  `soft_quota_threshold` SMALLINT(5) NOT NULL,
  `hard_quota_duration` SMALLINT(5) NOT NULL,
  `soft_quota_duration` SMALLINT(5) NOT NULL,
  `plan_name` VARCHAR(255),
  `target_id` BIGINT,
  `wait_time` SMALLINT(5) NOT NULL DEFAULT 0,
  PRIMARY KEY (`application_id`),
  KEY `application_quota_plan_name_fk_idx` (`plan_name`),
  KEY `application_quota_target_id_fk_idx` (`target_id`),
  CONSTRAINT `application_id_ibfk` FOREIGN KEY (`application_id`) REFERENCES `application` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `plan_name_ibfk` FOREIGN KEY (`plan_name`) REFERENCES `plan_active` (`name`)
    ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT `target_id_ibfk` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE SET NULL ON UPDATE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Inbound addresses that open incidents on a plan (API side).
CREATE TABLE IF NOT EXISTS `incident_emails` (
  `email` VARCHAR(255) NOT NULL,
  `application_id` INT NOT NULL,
  `plan_name` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`email`),
  KEY `incident_emails_plan_name_fk_idx` (`plan_name`),
  KEY `incident_emails_application_id_fk_idx` (`application_id`),
  CONSTRAINT `incident_emails_application_id_ibfk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `incident_emails_plan_name_ibfk` FOREIGN KEY (`plan_name`)
    REFERENCES `plan_active` (`name`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- ---------------------------------------------------------------------------------------------
-- Incidents and the messages they produce
-- ---------------------------------------------------------------------------------------------

-- current_step 0 = not yet escalated; active 0 = claimed, exhausted or invalid.
CREATE TABLE IF NOT EXISTS `incident` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `plan_id` BIGINT NOT NULL,
  `created` DATETIME NOT NULL,
  `updated` DATETIME DEFAULT NULL,
  `context` TEXT,
  `owner_id` BIGINT DEFAULT NULL,
  `application_id` INT NOT NULL,
  `current_step` INT NOT NULL,
  `active` TINYINT(1) NOT NULL,
  `resolved` TINYINT(1) UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  KEY `ix_incident_plan_id` (`plan_id`),
  KEY `ix_incident_updated` (`updated`),
  KEY `ix_incident_owner_id` (`owner_id`),
  KEY `ix_incident_active` (`active`),
  KEY `ix_incident_application_id` (`application_id`),
  KEY `ix_incident_created` (`created`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `dynamic_plan_map` (
  `incident_id` BIGINT NOT NULL AUTO_INCREMENT,
  `dynamic_index` INT NOT NULL,
  `role_id` INT NOT NULL,
  `target_id` BIGINT NOT NULL,
  PRIMARY KEY (`incident_id`, `dynamic_index`),
  KEY `ix_dynamic_plan_map_incident_id` (`incident_id`),
  CONSTRAINT `dynamic_plan_map_ibfk_1` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`),
  CONSTRAINT `dynamic_plan_map_ibfk_2` FOREIGN KEY (`role_id`) REFERENCES `target_role` (`id`),
  CONSTRAINT `dynamic_plan_map_ibfk_3` FOREIGN KEY (`incident_id`) REFERENCES `incident` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- One page to one user. active 1 = still to send; the sender fills destination, mode_id,
-- template_id, subject/body, sent (and batch for aggregated sends) and clears active.
CREATE TABLE IF NOT EXISTS `message` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `batch` VARCHAR(32) DEFAULT NULL,
  `created` DATETIME NOT NULL,
  `sent` DATETIME DEFAULT NULL,
  `application_id` INT NOT NULL,
  `target_id` BIGINT NOT NULL,
  `destination` VARCHAR(255) DEFAULT NULL,
  `mode_id` INT DEFAULT NULL,
  `plan_id` BIGINT DEFAULT NULL,
  `priority_id` INT NOT NULL,
  `subject` VARCHAR(255) DEFAULT NULL,
  `body` TEXT,
  `incident_id` BIGINT DEFAULT NULL,
  `plan_notification_id` BIGINT DEFAULT NULL,
  `active` TINYINT(1) NOT NULL DEFAULT 1,
  `template_id` INT DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `plan_id` (`plan_id`),
  KEY `ix_message_sent` (`sent`),
  KEY `ix_message_created` (`created`),
  KEY `ix_message_incident_id` (`incident_id`),
  KEY `ix_message_plan_notification_id` (`plan_notification_id`),
  KEY `ix_message_priority_id` (`priority_id`),
  KEY `ix_message_batch` (`batch`),
  KEY `ix_message_application_id` (`application_id`),
  KEY `ix_message_target_id` (`target_id`),
  KEY `ix_message_mode_id` (`mode_id`),
  KEY `ix_message_active` (`active`),
  KEY `message_ibfk_8` (`template_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Audit trail of what the sender changed about a message (mode, target, content…).
CREATE TABLE IF NOT EXISTS `message_changelog` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `date` DATETIME NOT NULL,
  `message_id` BIGINT NOT NULL,
  `change_type` VARCHAR(255) NOT NULL,
  `old` VARCHAR(255) NOT NULL,
  `new` VARCHAR(255) NOT NULL,
  `description` VARCHAR(255),
  PRIMARY KEY (`id`),
  KEY `ix_message_changelog_message_id` (`message_id`),
  KEY `ix_message_changelog_date` (`date`),
  CONSTRAINT `message_changelog_ibfk_1` FOREIGN KEY (`message_id`) REFERENCES `message` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

-- Replies (claim by SMS, call, email, Slack…) recorded by the API.
CREATE TABLE IF NOT EXISTS `response` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `created` DATETIME NOT NULL,
  `message_id` BIGINT NOT NULL,
  `content` TEXT NOT NULL,
  `source` VARCHAR(255) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `ix_response_message_id` (`message_id`),
  KEY `ix_response_created` (`created`),
  CONSTRAINT `response_ibfk_1` FOREIGN KEY (`message_id`) REFERENCES `message` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Twilio SID per SMS/call; the API updates `status` from Twilio's callbacks.
CREATE TABLE IF NOT EXISTS `twilio_delivery_status` (
  `twilio_sid` VARCHAR(34) NOT NULL,
  `message_id` BIGINT DEFAULT NULL,
  `status` VARCHAR(30) DEFAULT NULL,
  PRIMARY KEY (`twilio_sid`),
  KEY `twilio_delivery_status_message_id_fk_idx` (`message_id`),
  CONSTRAINT `twilio_delivery_status_message_id_ibfk` FOREIGN KEY (`message_id`)
    REFERENCES `message` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- message_id = the failed original, retry_id = the clone the API created to resend it.
CREATE TABLE IF NOT EXISTS `twilio_retry` (
  `message_id` BIGINT NOT NULL,
  `retry_id` BIGINT NOT NULL,
  PRIMARY KEY (`message_id`),
  KEY `twilio_retry_retry_id_fk_idx` (`retry_id`),
  CONSTRAINT `twilio_retry_message_id_ibfk` FOREIGN KEY (`message_id`) REFERENCES `message` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `twilio_retry_retry_id_ibfk` FOREIGN KEY (`message_id`) REFERENCES `message` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Outcome of the last delivery attempt for non-Twilio modes: 1 delivered, 0 failed.
CREATE TABLE IF NOT EXISTS `generic_message_sent_status` (
  `message_id` BIGINT NOT NULL,
  `status` TINYINT(1) NOT NULL,
  PRIMARY KEY (`message_id`),
  CONSTRAINT `generic_message_sent_status_message_id_ibfk` FOREIGN KEY (`message_id`)
    REFERENCES `message` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `comment` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `incident_id` BIGINT NOT NULL,
  `created` DATETIME NOT NULL,
  `user_id` BIGINT NOT NULL,
  `content` TEXT NOT NULL,
  PRIMARY KEY (`id`),
  CONSTRAINT `comment_incident_id_ibfk` FOREIGN KEY (`incident_id`) REFERENCES `incident` (`id`),
  CONSTRAINT `comment_user_id_ibfk` FOREIGN KEY (`user_id`) REFERENCES `user` (`target_id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- ---------------------------------------------------------------------------------------------
-- Statistics (API/UI only; present so the fixture is complete)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS `application_stats` (
  `application_id` INT NOT NULL,
  `statistic` VARCHAR(255) NOT NULL,
  `value` FLOAT,
  `timestamp` DATETIME NOT NULL,
  PRIMARY KEY (`application_id`, `statistic`, `timestamp`),
  CONSTRAINT `application_stats_app_id_ibfk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

CREATE TABLE IF NOT EXISTS `global_stats` (
  `statistic` VARCHAR(255) NOT NULL,
  `value` FLOAT,
  `timestamp` DATETIME NOT NULL,
  PRIMARY KEY (`statistic`, `timestamp`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
