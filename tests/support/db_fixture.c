/* db_fixture.c — throwaway test databases (see db_fixture.h). */
#define _DEFAULT_SOURCE
#include "db_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IRIS_SOURCE_DIR
#error "IRIS_SOURCE_DIR must be defined by the build"
#endif

static const char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return v && *v ? v : def;
}

void iris_test_db_opts(struct iris_db_opts *o, const char *name) {
  memset(o, 0, sizeof *o);
  o->host = env_or("IRIS_TEST_MYSQL_HOST", "127.0.0.1");
  o->port = (unsigned)strtoul(env_or("IRIS_TEST_MYSQL_PORT", "3306"), NULL, 10);
  o->user = env_or("IRIS_TEST_MYSQL_USER", "root");
  o->password = getenv("IRIS_TEST_MYSQL_PASSWORD");
  o->database = name;
}

int iris_test_db_create(struct iris_test_db *t, struct iris_err *err) {
  static int counter;
  struct iris_db_opts o;
  struct iris_db *admin = NULL;
  char sql[128];
  int rc;

  memset(t, 0, sizeof *t);
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  snprintf(t->name, sizeof t->name, "iris_t_%d_%d_%04x", (int)getpid(), ++counter,
           (unsigned)rand() & 0xffff);
  iris_test_db_opts(&o, "mysql");
  rc = iris_db_open(&o, &admin, err);
  if (rc)
    return rc;
  /* The name is generated above from digits and letters only. */
  snprintf(sql, sizeof sql, "CREATE DATABASE `%s` CHARACTER SET utf8mb4", t->name);
  rc = iris_db_exec(admin, 0, sql, NULL, 0, NULL, err);
  iris_db_close(admin);
  if (rc)
    return rc;
  iris_test_db_opts(&o, t->name);
  return iris_db_open(&o, &t->db, err);
}

static void export_conn_env(void) {
  setenv("IRIS_DB_HOST", env_or("IRIS_TEST_MYSQL_HOST", "127.0.0.1"), 1);
  setenv("IRIS_DB_PORT", env_or("IRIS_TEST_MYSQL_PORT", "3306"), 1);
  setenv("IRIS_DB_USER", env_or("IRIS_TEST_MYSQL_USER", "root"), 1);
  setenv("IRIS_DB_PASSWORD", env_or("IRIS_TEST_MYSQL_PASSWORD", ""), 1);
}

static int db_sh(const char *cmd, const char *name, struct iris_err *err) {
  char script[1024];
  pid_t pid;
  int status = 0;
  snprintf(script, sizeof script, "%s/scripts/db.sh", IRIS_SOURCE_DIR);
  export_conn_env();
  pid = fork();
  if (pid == 0) {
    execl(script, script, cmd, name, (char *)NULL);
    _exit(127);
  }
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
    return iris_err_set(err, IRIS_EDB, "fixture: db.sh %s %s failed (status %d)", cmd, name,
                        status);
  return IRIS_OK;
}

int iris_test_db_load_iris(struct iris_test_db *t, int with_demo, struct iris_err *err) {
  int rc = db_sh("load-iris", t->name, err);
  if (rc == IRIS_OK)
    rc = db_sh("migrate", t->name, err);
  if (rc == IRIS_OK && with_demo)
    rc = db_sh("demo", t->name, err);
  return rc;
}

int iris_test_db_sql(struct iris_test_db *t, const char *sql, struct iris_err *err) {
  int fds[2];
  pid_t pid;
  int status = 0;
  size_t n = strlen(sql), off = 0;
  char port[16];
  snprintf(port, sizeof port, "%s", env_or("IRIS_TEST_MYSQL_PORT", "3306"));
  setenv("MYSQL_PWD", env_or("IRIS_TEST_MYSQL_PASSWORD", ""), 1);
  if (pipe(fds))
    return iris_err_set(err, IRIS_EIO, "fixture: pipe failed");
  pid = fork();
  if (pid == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    execlp("mariadb", "mariadb", "--protocol=TCP", "-h",
           env_or("IRIS_TEST_MYSQL_HOST", "127.0.0.1"), "-P", port, "-u",
           env_or("IRIS_TEST_MYSQL_USER", "root"), "--default-character-set=utf8mb4", t->name,
           (char *)NULL);
    _exit(127);
  }
  close(fds[0]);
  while (off < n) {
    ssize_t w = write(fds[1], sql + off, n - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  close(fds[1]);
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
    return iris_err_set(err, IRIS_EDB, "fixture: SQL failed in %s: %.200s", t->name, sql);
  return IRIS_OK;
}

void iris_test_db_destroy(struct iris_test_db *t) {
  struct iris_db_opts o;
  struct iris_db *admin = NULL;
  struct iris_err err = {0};
  char sql[128];
  iris_db_close(t->db);
  t->db = NULL;
  if (!t->name[0])
    return;
  iris_test_db_opts(&o, "mysql");
  if (iris_db_open(&o, &admin, &err) == IRIS_OK) {
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS `%s`", t->name);
    if (iris_db_exec(admin, 0, sql, NULL, 0, NULL, &err))
      fprintf(stderr, "fixture: dropping %s: %s\n", t->name, err.msg);
  }
  iris_db_close(admin);
  t->name[0] = '\0';
}

int iris_test_db_prepare(struct iris_test_db *t, int with_iris, const char *sql) {
  struct iris_err err = {0};
  int rc = iris_test_db_create(t, &err);
  if (rc == IRIS_OK && with_iris)
    rc = iris_test_db_load_iris(t, 1, &err);
  if (rc == IRIS_OK && sql)
    rc = iris_test_db_sql(t, sql, &err);
  if (rc) {
    fprintf(stderr, "fixture: %s\n", err.msg);
    iris_test_db_destroy(t);
  }
  return rc;
}

struct iris_test_db *iris_test_db_new(int with_iris, const char *sql) {
  struct iris_test_db *t = calloc(1, sizeof *t);
  if (!t) {
    fprintf(stderr, "fixture: out of memory\n");
    return NULL;
  }
  if (iris_test_db_prepare(t, with_iris, sql)) {
    free(t);
    return NULL;
  }
  return t;
}

int iris_test_db_teardown(void **state) {
  struct iris_test_db *t = *state;
  if (t) {
    iris_test_db_destroy(t);
    free(t);
  }
  return 0;
}
