-- db/iris/demo_data.sql — a small, self-consistent Iris world for the demo and for tests.
--
-- Place: loaded on top of db/iris/schema.sql (scripts/db.sh demo DBNAME). It plays the role of
-- Iris's dummy data with our own content: every mode the sender serves, the four priorities and
-- their default modes, users reachable in every mode, a team and a mailing list, applications
-- with their allowed modes and keys, templates written in Jinja2 (variables, filters, attribute
-- access, if/for) for each application and mode, plans with repeats, waits, escalation, a plan
-- that aggregates bursts, a dynamic plan and a quota. A little history (closed incidents with
-- their sent messages, statuses, a reply and an audit row) gives the API-facing tables rows.
-- No incident is active: tests and the demo open their own, so nothing pages on load.
-- Ids are explicit so tests can refer to them; all addresses use reserved example domains and
-- fictional 555-01xx numbers. Application keys are demo values, not secrets.

SET NAMES utf8mb4;

-- Modes and priorities ----------------------------------------------------------------------
INSERT INTO `mode` (`id`, `name`) VALUES
  (1, 'email'), (2, 'sms'), (3, 'call'), (4, 'im'), (5, 'slack'), (6, 'hipchat'), (7, 'drop');

INSERT INTO `priority` (`id`, `name`, `mode_id`) VALUES
  (1, 'urgent', 3), (2, 'high', 2), (3, 'medium', 1), (4, 'low', 1);

-- Recipients --------------------------------------------------------------------------------
INSERT INTO `target_type` (`id`, `name`) VALUES (1, 'user'), (2, 'team'), (3, 'mailing-list');

INSERT INTO `target_role` (`id`, `name`, `type_id`) VALUES
  (1, 'user', 1), (2, 'manager', 2), (3, 'team', 2), (4, 'oncall-primary', 2),
  (5, 'oncall-secondary', 2), (6, 'mailing-list', 3);

INSERT INTO `target` (`id`, `name`, `type_id`, `active`) VALUES
  (1, 'ada', 1, 1), (2, 'grace', 1, 1), (3, 'linus', 1, 1), (4, 'wei', 1, 1),
  (5, 'olddev', 1, 0),
  (10, 'storage-oncall', 2, 1),
  (20, 'storage-announce', 3, 1);

INSERT INTO `user` (`target_id`, `admin`) VALUES (1, 1), (2, 0), (3, 0), (4, 0), (5, 0);

INSERT INTO `user_setting` (`user_id`, `name`, `value`) VALUES
  (1, 'timezone', 'Europe/London'), (3, 'timezone', 'America/Los_Angeles');

INSERT INTO `team` (`target_id`, `manager_id`, `director_id`) VALUES (10, 2, NULL);
INSERT INTO `user_team` (`user_id`, `team_id`) VALUES (1, 10), (3, 10), (4, 10);
INSERT INTO `oncall_team` (`target_id`, `oncall_team_id`) VALUES (10, 4201);

INSERT INTO `mailing_list` (`target_id`, `count`) VALUES (20, 3);
INSERT INTO `mailing_list_membership` (`list_id`, `user_id`) VALUES (20, 1), (20, 2), (20, 3);

-- Every active user is reachable in every mode except drop (drop needs no destination).
-- wei's phone is in +86, which exercises the calls-to-China rule (call → sms).
INSERT INTO `target_contact` (`target_id`, `mode_id`, `destination`) VALUES
  (1, 1, 'ada@example.com'), (1, 2, '+15550100101'), (1, 3, '+15550100101'),
  (1, 4, 'ada@chat.example.com'), (1, 5, '@ada'), (1, 6, '@AdaL'),
  (2, 1, 'grace@example.com'), (2, 2, '+15550100102'), (2, 3, '+15550100112'),
  (2, 4, 'grace@chat.example.com'), (2, 5, '@grace'), (2, 6, '@GraceH'),
  (3, 1, 'linus@example.org'), (3, 2, '+15550100103'), (3, 3, '+15550100103'),
  (3, 4, 'linus@chat.example.org'), (3, 5, '@linus'), (3, 6, '@LinusT'),
  (4, 1, 'wei@example.net'), (4, 2, '+8613800000104'), (4, 3, '+8613800000104'),
  (4, 4, 'wei@chat.example.net'), (4, 5, '@wei'), (4, 6, '@WeiZ'),
  (5, 1, 'olddev@example.com'),
  (20, 1, 'storage-announce@lists.example.com');

INSERT INTO `device` (`id`, `registration_id`, `user_id`, `platform`) VALUES
  (1, 'demo-fcm-registration-ada-0001', 1, 'android');

-- Applications ------------------------------------------------------------------------------
INSERT INTO `application` (`id`, `name`, `key`, `context_template`, `summary_template`,
                           `sample_context`, `mobile_template`, `auth_only`,
                           `allow_other_app_incidents`, `allow_authenticating_users`,
                           `secondary_key`) VALUES
  (1, 'Autoalerts', 'a1f3c5e7b9d2f4a6c8e0b2d4f6a8c0e2', '<p>{{host}}: {{check}}</p>',
   '{{check}} on {{host}}', '{"host": "db-17", "check": "disk_used_pct", "value": 97}',
   NULL, 0, 0, 0, NULL),
  (2, 'iris', '5e0c9b8a7f6e5d4c3b2a19087f6e5d4c', NULL, NULL, NULL, NULL, 0, 1, 1, NULL),
  (3, 'batchjobs', '0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e', NULL, '{{job}} {{status}}', NULL,
   NULL, 0, 0, 0, 'f0e1d2c3b4a5968778695a4b3c2d1e0f');

-- Autoalerts may use every real mode; iris may also drop; batchjobs only email, slack, drop.
INSERT INTO `application_mode` (`application_id`, `mode_id`) VALUES
  (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6),
  (2, 1), (2, 2), (2, 3), (2, 5), (2, 7),
  (3, 1), (3, 5), (3, 7);

INSERT INTO `application_owner` (`application_id`, `user_id`) VALUES (1, 1), (2, 1), (3, 3);

INSERT INTO `application_custom_sender_address` (`application_id`, `mode_id`, `sender_address`)
  VALUES (1, 1, 'autoalerts@alerts.example.com');

INSERT INTO `template_variable` (`id`, `application_id`, `name`, `required`, `title_variable`)
  VALUES
  (1, 1, 'host', 1, 0), (2, 1, 'check', 1, 1), (3, 1, 'value', 0, 0), (4, 1, 'threshold', 0, 0),
  (5, 1, 'severity', 0, 0), (6, 1, 'runbook_url', 0, 0), (7, 1, 'tags', 0, 0),
  (8, 2, 'quota_breach', 1, 0),
  (9, 3, 'job', 1, 1), (10, 3, 'status', 1, 0), (11, 3, 'log_url', 0, 0),
  (12, 3, 'failed_tasks', 0, 0);

-- Mode preferences at each level of the resolution order.
INSERT INTO `default_application_mode` (`application_id`, `priority_id`, `mode_id`) VALUES
  (3, 2, 5), (3, 3, 5);                                  -- batchjobs: high/medium → slack
INSERT INTO `target_mode` (`target_id`, `priority_id`, `mode_id`) VALUES
  (3, 3, 5), (4, 4, 4);                                  -- linus medium → slack, wei low → im
INSERT INTO `target_application_mode` (`target_id`, `application_id`, `priority_id`, `mode_id`)
  VALUES (2, 1, 2, 3);                                   -- grace: Autoalerts high → call
INSERT INTO `target_reprioritization` (`target_id`, `src_mode_id`, `dst_mode_id`, `count`,
                                       `duration`)
  VALUES (1, 2, 3, 5, 300);                              -- ada: >5 sms in 5 min → call
INSERT INTO `mode_template_override` (`target_id`, `mode_id`) VALUES (4, 2);

INSERT INTO `notification_category` (`id`, `application_id`, `name`, `description`, `mode_id`)
  VALUES (1, 1, 'maintenance', 'Planned maintenance announcements', 1),
         (2, 3, 'nightly-summary', 'Morning summary of the nightly jobs', 1);
INSERT INTO `category_override` (`user_id`, `category_id`, `mode_id`) VALUES (1, 1, 5);

-- Templates ---------------------------------------------------------------------------------
INSERT INTO `template` (`id`, `name`, `created`, `user_id`) VALUES
  (1, 'disk-alert', '2026-01-10 09:00:00', 1),
  (2, 'disk-alert', '2026-02-02 14:30:00', 1),
  (3, 'job-failure', '2026-02-03 08:00:00', 3),
  (4, 'quota-breach', '2026-02-04 10:15:00', 1);

INSERT INTO `template_active` (`name`, `template_id`) VALUES
  ('disk-alert', 2), ('job-failure', 3), ('quota-breach', 4);

-- Version 1 of disk-alert: superseded, written in the legacy per-mode columns as old UIs did.
INSERT INTO `template_content` (`template_id`, `application_id`, `mode_id`, `subject`, `body`,
                                `call`, `sms`, `im`, `email_subject`, `email_text`, `email_html`)
  VALUES
  (1, 1, 1, 'Disk alert on {{host}}', 'Disk usage on {{host}} is {{value}}%.',
   'Disk alert on {{host}}.', '{{host}} disk {{value}}%', '{{host}} disk {{value}}%',
   'Disk alert on {{host}}', 'Disk usage on {{host}} is {{value}}%.',
   '<p>Disk usage on <b>{{host}}</b> is {{value}}%.</p>');

-- Version 2 (active): one content per mode Autoalerts may use, rendered from subject and body.
INSERT INTO `template_content` (`template_id`, `application_id`, `mode_id`, `subject`, `body`,
                                `call`, `sms`, `im`, `email_subject`, `email_text`, `email_html`)
  VALUES
  (2, 1, 1,
   '[{{ severity | default(''warning'') | upper }}] {{ check }} on {{ host }}',
   '**{{ check }}** on `{{ host }}` reads {{ value }} (threshold {{ threshold }}).\n\n{% if runbook_url %}Runbook: {{ runbook_url }}\n\n{% endif %}{% if tags %}Tags: {% for t in tags %}{{ t }}{% if not loop.last %}, {% endif %}{% endfor %}\n\n{% endif %}Incident {{ iris.incident_id }} of plan {{ iris.plan }}, opened {{ iris.incident_created }}.\nReply "{{ iris.message_id }} claim" to take it.',
   NULL, NULL, NULL,
   '[{{ severity | default(''warning'') | upper }}] {{ check }} on {{ host }}',
   '{{ check }} on {{ host }} reads {{ value }}.',
   '<h3>{{ check }} on {{ host }}</h3><p>Value {{ value }}, threshold {{ threshold }}.</p>{% if runbook_url %}<p><a href="{{ runbook_url }}">Runbook</a></p>{% endif %}'),
  (2, 1, 2, '',
   '{{ iris.message_id }}: {{ check }} {{ host }} = {{ value }}/{{ threshold }}. Reply "{{ iris.message_id }} claim".',
   NULL, '{{ check }} {{ host }} = {{ value }}', NULL, NULL, NULL, NULL),
  (2, 1, 3, '',
   'This is Iris. {{ check | replace(''_'', '' '') }} on host {{ host }} is at {{ value }}. Press 2 to claim.',
   'Alert: {{ check }} on {{ host }}.', NULL, NULL, NULL, NULL, NULL),
  (2, 1, 4, '{{ check }} on {{ host }}',
   '{{ check }} on {{ host }} = {{ value }} (incident {{ iris.incident_id }})',
   NULL, NULL, '{{ check }} on {{ host }} = {{ value }}', NULL, NULL, NULL),
  (2, 1, 5, '{{ check }} on {{ host }}',
   ':rotating_light: *{{ check }}* on `{{ host }}`: {{ value }} (threshold {{ threshold }}){% if runbook_url %} — <{{ runbook_url }}|runbook>{% endif %}',
   NULL, NULL, NULL, NULL, NULL, NULL),
  (2, 1, 6, '{{ check }} on {{ host }}',
   '(alert) {{ check }} on {{ host }}: {{ value }}',
   NULL, NULL, NULL, NULL, NULL, NULL);

INSERT INTO `template_content` (`template_id`, `application_id`, `mode_id`, `subject`, `body`,
                                `call`, `sms`, `im`, `email_subject`, `email_text`, `email_html`)
  VALUES
  (3, 3, 1, 'Job {{ job }} {{ status | lower }}',
   'The job `{{ job }}` ended **{{ status }}**.\n\n{% if failed_tasks %}Failed tasks ({{ failed_tasks | length }}):\n\n{% for t in failed_tasks %}* {{ t.name }} (exit {{ t.code }})\n{% endfor %}\n{% endif %}{% if log_url %}Logs: {{ log_url }}{% endif %}',
   NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 3, 5, 'Job {{ job }}',
   ':x: `{{ job }}` {{ status }}{% if failed_tasks %} ({{ failed_tasks | length }} tasks failed){% endif %}',
   NULL, NULL, NULL, NULL, NULL, NULL);

INSERT INTO `template_content` (`template_id`, `application_id`, `mode_id`, `subject`, `body`,
                                `call`, `sms`, `im`, `email_subject`, `email_text`, `email_html`)
  VALUES
  (4, 2, 1, 'Quota exceeded by {{ quota_breach.application }}',
   'Application {{ quota_breach.application }} sent more than {{ quota_breach.limit }} messages in {{ quota_breach.duration }} minutes; further messages are being dropped.',
   NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 2, 2, '',
   'Iris: {{ quota_breach.application }} over quota ({{ quota_breach.limit }}/{{ quota_breach.duration }}m)',
   NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 2, 3, '',
   'Iris quota alert. Application {{ quota_breach.application }} is over its quota.',
   NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 2, 5, 'Quota exceeded',
   ':warning: `{{ quota_breach.application }}` is over its quota of {{ quota_breach.limit }} per {{ quota_breach.duration }} min',
   NULL, NULL, NULL, NULL, NULL, NULL);

-- Plans -------------------------------------------------------------------------------------
INSERT INTO `plan` (`id`, `name`, `created`, `user_id`, `team_id`, `description`, `step_count`,
                    `threshold_window`, `threshold_count`, `aggregation_window`,
                    `aggregation_reset`, `tracking_key`, `tracking_type`, `tracking_template`)
  VALUES
  -- superseded version of disk-escalation
  (1, 'disk-escalation', '2026-01-10 09:05:00', 1, 10, 'First draft: page the team only.', 1,
   900, 10, 300, 300, NULL, NULL, NULL),
  -- two steps: on-call by SMS repeated twice 5 minutes apart, then the manager by call and
  -- the mailing list by email; new incidents are copied to a tracking address
  (2, 'disk-escalation', '2026-02-02 15:00:00', 1, 10,
   'Storage disks: on-call first, then the manager and the list.', 2,
   900, 10, 300, 300, 'storage-tracking@example.com', 'email',
   '{"Autoalerts": {"email_subject": "[tracking] {{ check }} on {{ host }}", "email_text": "Incident {{ iris.incident_id }} opened for {{ host }} ({{ check }} = {{ value }}).", "email_html": "<p>Incident {{ iris.incident_id }}: <b>{{ host }}</b></p>"}}'),
  -- aggregates bursts: more than 3 messages to one user within 2 minutes start a batch,
  -- flushed every minute, until 5 quiet minutes
  (3, 'job-storm', '2026-02-03 08:10:00', 3, NULL,
   'Batch job failures: noisy, so aggregated quickly.', 1,
   120, 3, 60, 300, NULL, NULL, NULL),
  -- paged by the sender itself when an application breaks its hard quota
  (4, 'quota-breach', '2026-02-04 10:20:00', 1, NULL, 'Hard quota breaches.', 1,
   900, 10, 300, 300, NULL, NULL, NULL),
  -- recipients chosen per incident (dynamic_plan_map)
  (5, 'dynamic-handoff', '2026-02-05 11:00:00', 1, NULL,
   'Whoever the caller names: slot 0 urgently, slot 1 by email.', 1,
   900, 10, 300, 300, NULL, NULL, NULL);

INSERT INTO `plan_active` (`name`, `plan_id`) VALUES
  ('disk-escalation', 2), ('job-storm', 3), ('quota-breach', 4), ('dynamic-handoff', 5);

INSERT INTO `plan_notification` (`id`, `plan_id`, `step`, `template`, `target_id`, `optional`,
                                 `role_id`, `priority_id`, `repeat`, `wait`, `dynamic_index`)
  VALUES
  (1, 1, 1, 'disk-alert', 10, 0, 3, 3, 0, 600, NULL),
  (2, 2, 1, 'disk-alert', 10, 0, 4, 2, 2, 300, NULL),   -- on-call, high, 3 sends 5 min apart
  (3, 2, 1, 'disk-alert', 10, 1, 3, 4, 0, 600, NULL),   -- whole team, low, optional
  (4, 2, 2, 'disk-alert', 10, 0, 2, 1, 1, 300, NULL),   -- manager, urgent, twice
  (5, 2, 2, 'disk-alert', 20, 0, 6, 3, 0, 0, NULL),     -- mailing list, medium, once
  (6, 3, 1, 'job-failure', 3, 0, 1, 3, 0, 0, NULL),     -- linus, medium
  (7, 3, 1, 'job-failure', 2, 0, 1, 2, 1, 120, NULL),   -- grace, high, twice
  (8, 4, 1, 'quota-breach', 1, 0, 1, 1, 2, 600, NULL),  -- ada, urgent, three times
  (9, 5, 1, 'disk-alert', NULL, 0, NULL, 1, 1, 300, 0),
  (10, 5, 1, 'disk-alert', NULL, 0, NULL, 3, 0, 0, 1);

INSERT INTO `application_quota` (`application_id`, `hard_quota_threshold`,
                                 `soft_quota_threshold`, `hard_quota_duration`,
                                 `soft_quota_duration`, `plan_name`, `target_id`, `wait_time`)
  VALUES (1, 600, 300, 3600, 3600, 'quota-breach', 10, 1800),
         (3, 120, 60, 600, 300, 'quota-breach', 3, 3600);

INSERT INTO `incident_emails` (`email`, `application_id`, `plan_name`) VALUES
  ('storage-alerts@incoming.example.com', 1, 'disk-escalation');

-- History: closed incidents and what was sent for them ---------------------------------------
INSERT INTO `incident` (`id`, `plan_id`, `created`, `updated`, `context`, `owner_id`,
                        `application_id`, `current_step`, `active`, `resolved`) VALUES
  (1, 2, '2026-02-10 03:12:00', '2026-02-10 03:15:40',
   '{"host": "db-17", "check": "disk_used_pct", "value": 97, "threshold": 90, "severity": "critical", "runbook_url": "https://runbooks.example.com/disk", "tags": ["storage", "db"]}',
   1, 1, 1, 0, 1),
  (2, 3, '2026-02-11 01:00:00', '2026-02-11 01:20:00',
   '{"job": "nightly-etl", "status": "FAILED", "log_url": null, "failed_tasks": [{"name": "load", "code": 2}]}',
   NULL, 3, 1, 0, 0),
  (3, 5, '2026-02-12 16:00:00', '2026-02-12 16:02:00',
   '{"host": "cache-3", "check": "memory_used_pct", "value": 99, "threshold": 95}',
   1, 1, 1, 0, 1);

INSERT INTO `dynamic_plan_map` (`incident_id`, `dynamic_index`, `role_id`, `target_id`) VALUES
  (3, 0, 4, 10), (3, 1, 1, 3);

INSERT INTO `message` (`id`, `batch`, `created`, `sent`, `application_id`, `target_id`,
                       `destination`, `mode_id`, `plan_id`, `priority_id`, `subject`, `body`,
                       `incident_id`, `plan_notification_id`, `active`, `template_id`) VALUES
  (1, NULL, '2026-02-10 03:12:30', '2026-02-10 03:12:32', 1, 1, '+15550100101', 2, 2, 2, '',
   '1: disk_used_pct db-17 = 97/90. Reply "1 claim".', 1, 2, 0, 2),
  (2, NULL, '2026-02-10 03:12:30', '2026-02-10 03:12:33', 1, 3, 'linus@example.org', 1, 2, 4,
   '2 [CRITICAL] disk_used_pct on db-17', '**disk_used_pct** on `db-17` reads 97 (threshold 90).',
   1, 3, 0, 2),
  (3, '3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b', '2026-02-11 01:00:30', '2026-02-11 01:02:00', 3, 3,
   '@linus', 5, 3, 3, '[batchjobs] 2 messages from plan job-storm',
   'Batch ID: 3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b', 2, 6, 0, NULL),
  (4, '3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b', '2026-02-11 01:00:45', '2026-02-11 01:02:00', 3, 3,
   '@linus', 5, 3, 3, '[batchjobs] 2 messages from plan job-storm',
   'Batch ID: 3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b', 2, 6, 0, NULL),
  (5, NULL, '2026-02-12 16:00:30', '2026-02-12 16:00:31', 1, 1, '+15550100101', 3, 5, 1, '',
   'This is Iris. memory used pct on host cache-3 is at 99. Press 2 to claim.', 3, 9, 0, 2);

INSERT INTO `message_changelog` (`id`, `date`, `message_id`, `change_type`, `old`, `new`,
                                 `description`) VALUES
  (1, '2026-02-11 01:00:50', 4, 'sent-change', '', '',
   'Aggregated with key (3, batchjobs, medium, linus)'),
  (2, '2026-02-12 16:00:31', 5, 'target-change', 'oncall-primary|storage-oncall', 'ada',
   'Resolved dynamic slot 0 to the current on-call');

INSERT INTO `response` (`id`, `created`, `message_id`, `content`, `source`) VALUES
  (1, '2026-02-10 03:15:40', 1, '1 claim', '+15550100101');

INSERT INTO `twilio_delivery_status` (`twilio_sid`, `message_id`, `status`) VALUES
  ('SMd0e1m2o3s4i5d6000000000000000001', 1, 'delivered'),
  ('CAd0e1m2o3s4i5d6000000000000000005', 5, 'completed');

INSERT INTO `generic_message_sent_status` (`message_id`, `status`) VALUES (2, 1), (3, 1), (4, 1);

INSERT INTO `comment` (`id`, `incident_id`, `created`, `user_id`, `content`) VALUES
  (1, 1, '2026-02-10 03:20:00', 2, 'Rotated old WAL segments; usage back to 61%.');
