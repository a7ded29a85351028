/* oracle_prereq.c - the Oracle source prerequisite script for AWS DMS
 * (co_oracle_prereq_script_new, declared in engine/awsdms.h).
 *
 * The script is generated text for an operator to review and run; nothing
 * here connects to Oracle. Quoting: identifiers go through qident() ("" for
 * '"'), string literals through lit() ('' for '\''), LIKE patterns through
 * like() (DMS '%' kept, '_' and '\' escaped with ESCAPE '\'). Text taken
 * from the endpoint document into comments has control characters
 * replaced, so it cannot end the comment line. SQL*Plus substitution (&) is
 * switched off except around the one line that reads the password.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/awsdms.h"
#include "engine/table_mappings.h"
#include "core/buf.h"

/* A buffer that remembers its first failure. */
typedef struct out {
    co_buf b;
    co_status rc;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    int n;
    if (o->rc != CO_OK)
        return;
    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->rc = CO_ERR_NOMEM;
        return;
    }
    o->rc = co_buf_append(&o->b, s, (size_t)n);
    free(s);
}

static void put_ch(out *o, char ch)
{
    if (o->rc == CO_OK)
        o->rc = co_buf_append(&o->b, &ch, 1);
}

/* Appends s with every q doubled (none added around it). */
static void doubled(out *o, const char *s, char q)
{
    for (const char *p = s; *p; p++) {
        if (*p == q)
            put_ch(o, q);
        put_ch(o, *p);
    }
}

/* Appends s between q quotes with every q doubled. */
static void quoted(out *o, const char *s, char q)
{
    put_ch(o, q);
    doubled(o, s, q);
    put_ch(o, q);
}

static void qident(out *o, const char *s)
{
    quoted(o, s, '"');
}

static void lit(out *o, const char *s)
{
    quoted(o, s, '\'');
}

/* "schema"."table" as a new string (NULL out of memory). */
/* The script text, or NULL (and the buffer freed) after a failure. */
static char *finish(out *o)
{
    if (o->rc != CO_OK) {
        co_buf_free(&o->b);
        return NULL;
    }
    return co_buf_steal(&o->b);
}

static char *qname_new(const char *schema, const char *table)
{
    out o = {{0}, CO_OK};
    qident(&o, schema);
    put(&o, ".");
    qident(&o, table);
    return finish(&o);
}

/* A LIKE pattern literal for DMS pattern p. */
static void like(out *o, const char *p)
{
    put_ch(o, '\'');
    for (; *p; p++) {
        if (*p == '_' || *p == '\\' || *p == '\'')
            put_ch(o, *p == '\'' ? '\'' : '\\');
        put_ch(o, *p);
    }
    put_ch(o, '\'');
}

/* Comment text: control characters become '?'. */
static void comment_text(out *o, const char *s)
{
    for (; s && *s; s++)
        put_ch(o, iscntrl((unsigned char)*s) ? '?' : *s);
}

/* The user name as Oracle stores it: an identifier that would be valid
 * unquoted is upper-cased, anything else is taken literally. */
static char *oracle_user_new(const char *name)
{
    char *u = strdup(name);
    bool plain = u && isalpha((unsigned char)u[0]);
    for (char *p = u; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || *p == '_' || *p == '$' || *p == '#';
    for (char *p = u; plain && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

/* The DMS user as Oracle stores it: dms_user, else the endpoint's
 * username, else DMS_USER (oracle_user_new). New string, NULL out of
 * memory. */
static char *dms_user_new(const json_t *source_doc, const char *dms_user)
{
    const char *name = dms_user && *dms_user
                           ? dms_user
                           : json_string_value(json_object_get(source_doc, "username"));
    return oracle_user_new(name && *name ? name : "DMS_USER");
}

static const char *const sys_grants[] = {
    "V_$ARCHIVED_LOG", "V_$LOG", "V_$LOGFILE", "V_$LOGMNR_LOGS", "V_$LOGMNR_CONTENTS",
    "V_$DATABASE", "V_$THREAD", "V_$PARAMETER", "V_$NLS_PARAMETERS", "V_$TIMEZONE_NAMES",
    "V_$TRANSACTION", "ALL_INDEXES", "ALL_OBJECTS", "ALL_TABLES", "ALL_USERS", "ALL_CATALOG",
    "ALL_CONSTRAINTS", "ALL_CONS_COLUMNS", "ALL_TAB_COLS", "ALL_IND_COLUMNS",
    "ALL_ENCRYPTED_COLUMNS", "ALL_LOG_GROUPS", "ALL_TAB_PARTITIONS", "ALL_VIEWS",
    "SYS.DBA_REGISTRY", "SYS.OBJ$", "DBA_TABLESPACES", NULL};

static const char *const system_schemas =
    "'SYS', 'SYSTEM', 'XDB', 'MDSYS', 'CTXSYS', 'OUTLN', 'DBSNMP', 'ORDSYS', 'ORDDATA', "
    "'WMSYS', 'OLAPSYS', 'LBACSYS', 'DVSYS', 'AUDSYS', 'OJVMSYS', 'APPQOSSYS', "
    "'GSMADMIN_INTERNAL', 'DBSFWUSER', 'RDSADMIN'";

static void header(out *o, const json_t *doc, const char *user)
{
    put(o, "-- cutover: Oracle source prerequisites for AWS DMS (full load and CDC)\n-- Source: ");
    comment_text(o, json_string_value(json_object_get(doc, "host")));
    put(o, ":%lld/", (long long)json_integer_value(json_object_get(doc, "port")));
    comment_text(o, json_string_value(json_object_get(doc, "database")));
    put(o, "\n-- DMS user: ");
    comment_text(o, user);
    put(o, "\n--\n"
           "-- Review, then run as SYSDBA (grants on SYS objects need it), e.g.\n"
           "--   sqlplus / as sysdba @configure_source.sql\n"
           "-- and approve the configure_source step of the run. The script stops at\n"
           "-- the first error and can be run again.\n"
           "-- Amazon RDS for Oracle: use rdsadmin.rdsadmin_util.grant_sys_object,\n"
           "-- alter_supplemental_logging('ADD') and set_configuration('archivelog\n"
           "-- retention hours', 24) instead of the SYS grants and ALTER DATABASE.\n\n"
           "SET SERVEROUTPUT ON\nSET VERIFY OFF\nSET DEFINE OFF\n"
           "WHENEVER SQLERROR EXIT SQL.SQLCODE\n\n");
}

static void archivelog_check(out *o)
{
    put(o, "PROMPT 1. ARCHIVELOG mode (AWS DMS reads changes from the redo logs)\n"
           "SELECT LOG_MODE FROM V$DATABASE;\n"
           "DECLARE\n  m VARCHAR2(12);\nBEGIN\n"
           "  SELECT LOG_MODE INTO m FROM V$DATABASE;\n"
           "  IF m <> 'ARCHIVELOG' THEN\n"
           "    RAISE_APPLICATION_ERROR(-20001, 'The database is in ' || m || ' mode; "
           "AWS DMS CDC needs ARCHIVELOG: SHUTDOWN IMMEDIATE; STARTUP MOUNT; "
           "ALTER DATABASE ARCHIVELOG; ALTER DATABASE OPEN;');\n"
           "  END IF;\nEND;\n/\n\n");
}

static void user_and_grants(out *o, const char *user)
{
    out q = {{0}, CO_OK};
    qident(&q, user);
    put(o, "PROMPT 2. The DMS user\n"
           "SET DEFINE ON\n"
           "ACCEPT dms_password CHAR PROMPT 'Password for the DMS user (no \" or '' "
           "characters; ignored if the user exists): ' HIDE\n"
           "DECLARE\n  n NUMBER;\nBEGIN\n"
           "  SELECT COUNT(*) INTO n FROM DBA_USERS WHERE USERNAME = ");
    lit(o, user);
    put(o, ";\n  IF n = 0 THEN\n    EXECUTE IMMEDIATE ");
    put(o, "'CREATE USER ");
    doubled(o, q.b.data ? q.b.data : "", '\'');
    put(o, " IDENTIFIED BY \"&dms_password\"';\n  END IF;\nEND;\n/\nSET DEFINE OFF\n\n");
    put(o, "PROMPT 3. Privileges AWS DMS needs on a self-managed Oracle source\n");
    put(o, "GRANT CREATE SESSION TO %s;\n", q.b.data ? q.b.data : "");
    put(o, "GRANT SELECT ANY TRANSACTION TO %s;\n", q.b.data ? q.b.data : "");
    for (const char *const *g = sys_grants; *g; g++)
        put(o, "GRANT SELECT ON %s TO %s;\n", *g, q.b.data ? q.b.data : "");
    put(o, "GRANT EXECUTE ON DBMS_LOGMNR TO %s;\n", q.b.data ? q.b.data : "");
    /* 12c and later only: tolerated elsewhere */
    put(o, "BEGIN\n  EXECUTE IMMEDIATE 'GRANT LOGMINING TO ");
    doubled(o, q.b.data ? q.b.data : "", '\'');
    put(o, "';\n  EXECUTE IMMEDIATE 'GRANT SELECT ON V_$CONTAINERS TO ");
    doubled(o, q.b.data ? q.b.data : "", '\'');
    put(o, "';\nEXCEPTION WHEN OTHERS THEN\n"
           "  DBMS_OUTPUT.PUT_LINE('LOGMINING / V_$CONTAINERS not granted (needed from "
           "Oracle 12c on): ' || SQLERRM);\nEND;\n/\n\n");
    if (q.rc != CO_OK)
        o->rc = q.rc;
    co_buf_free(&q.b);
}

/* The ALTER TABLE of one explicitly named table, tolerating ORA-32588
 * ("supplemental logging attribute primary key exists") on a re-run. */
static void explicit_table(out *o, const char *schema, const char *table, const char *type,
                           const char *quser)
{
    char *name = qname_new(schema, table);
    if (!name) {
        o->rc = CO_ERR_NOMEM;
        return;
    }
    put(o, "GRANT SELECT ON %s TO %s;\n", name, quser);
    if (strcmp(type, "view") != 0) {
        put(o, "BEGIN\n  EXECUTE IMMEDIATE ");
        {
            out stmt = {{0}, CO_OK};
            put(&stmt, "ALTER TABLE %s ADD SUPPLEMENTAL LOG DATA (PRIMARY KEY) COLUMNS", name);
            lit(o, stmt.b.data ? stmt.b.data : "");
            if (stmt.rc != CO_OK)
                o->rc = stmt.rc;
            co_buf_free(&stmt.b);
        }
        put(o, ";\nEXCEPTION WHEN OTHERS THEN\n  IF SQLCODE <> -32588 THEN RAISE; END IF;\n"
               "END;\n/\n");
    }
    free(name);
}

/* "oc LIKE 'schema' ESCAPE '\' AND tc LIKE 'table' ESCAPE '\'": the
 * objects a rule's object-locator names, over owner column oc and name
 * column tc. */
static void like_pair(out *o, const char *oc, const char *schema, const char *tc,
                      const char *table)
{
    put(o, "%s LIKE ", oc);
    like(o, schema);
    put(o, " ESCAPE '\\' AND %s LIKE ", tc);
    like(o, table);
    put(o, " ESCAPE '\\'");
}

/* The rule-action of r when it is a selection rule of DMS table mappings
 * (NULL otherwise, or without an action); *schema and *table receive its
 * object-locator's schema-name and table-name (borrowed, NULL when
 * absent). */
static const char *selection_rule(const json_t *r, const char **schema, const char **table)
{
    const json_t *loc = json_object_get(r, "object-locator");
    const char *rt = json_string_value(json_object_get(r, "rule-type"));
    *schema = json_string_value(json_object_get(loc, "schema-name"));
    *table = json_string_value(json_object_get(loc, "table-name"));
    if (!rt || strcmp(rt, "selection") != 0)
        return NULL;
    return json_string_value(json_object_get(r, "rule-action"));
}

static bool has_wildcard(const char *s)
{
    return s && strchr(s, '%');
}

static bool admits(const json_t *rule, const char *type)
{
    const char *t = json_string_value(
        json_object_get(json_object_get(rule, "object-locator"), "table-type"));
    if (!t || !*t)
        return strcmp(type, "table") == 0; /* DMS's default table-type */
    return strcmp(t, "all") == 0 || strcmp(t, type) == 0;
}

/* The PL/SQL loop of one wildcard include rule over ALL_TABLES (type
 * "table") or ALL_VIEWS ("view"), minus the exclude rules. */
static void wildcard_loop(out *o, const json_t *mappings, const char *schema,
                          const char *table, const char *type, const char *quser)
{
    bool view = strcmp(type, "view") == 0;
    const char *col = view ? "VIEW_NAME" : "TABLE_NAME";
    size_t i;
    json_t *r;
    out q = {{0}, CO_OK};
    put(o, "BEGIN\n  FOR t IN (SELECT OWNER, %s AS NAME FROM %s\n            WHERE ", col,
        view ? "ALL_VIEWS" : "ALL_TABLES");
    like_pair(o, "OWNER", schema, col, table);
    put(o, "\n");
    if (!view)
        put(o, "              AND NESTED = 'NO' AND TEMPORARY = 'N' AND DROPPED = 'NO'\n"
               "              AND (IOT_TYPE IS NULL OR IOT_TYPE = 'IOT')\n");
    if (has_wildcard(schema))
        put(o, "              AND OWNER NOT IN (%s)\n", system_schemas);
    json_array_foreach(json_object_get(mappings, "rules"), i, r) {
        const char *es, *et, *ra = selection_rule(r, &es, &et);
        if (!ra || strcmp(ra, "exclude") != 0 || !es || !admits(r, type))
            continue;
        put(o, "              AND NOT (");
        like_pair(o, "OWNER", es, col, et ? et : "%");
        put(o, ")\n");
    }
    /* the user's name inside a PL/SQL string literal */
    doubled(&q, quser, '\'');
    put(o, "           ORDER BY OWNER, %s) LOOP\n"
           "    EXECUTE IMMEDIATE 'GRANT SELECT ON \"' || REPLACE(t.OWNER, '\"', '\"\"') || "
           "'\".\"' || REPLACE(t.NAME, '\"', '\"\"') || '\" TO %s';\n",
        col, q.b.data ? q.b.data : "");
    if (!view)
        put(o, "    BEGIN\n"
               "      EXECUTE IMMEDIATE 'ALTER TABLE \"' || REPLACE(t.OWNER, '\"', '\"\"') || "
               "'\".\"' || REPLACE(t.NAME, '\"', '\"\"') || "
               "'\" ADD SUPPLEMENTAL LOG DATA (PRIMARY KEY) COLUMNS';\n"
               "    EXCEPTION WHEN OTHERS THEN\n"
               "      IF SQLCODE <> -32588 THEN RAISE; END IF;\n"
               "    END;\n");
    put(o, "  END LOOP;\nEND;\n/\n");
    if (q.rc != CO_OK)
        o->rc = q.rc;
    co_buf_free(&q.b);
}

/* Section 5: one entry per include/explicit selection rule. */
static void tables(out *o, const json_t *mappings, const char *quser)
{
    json_t *seen = json_object();
    size_t i, rules = 0;
    json_t *r;
    put(o, "PROMPT 5. SELECT and supplemental logging (primary key columns) per table\n");
    json_array_foreach(json_object_get(mappings, "rules"), i, r) {
        const char *s, *t, *ra = selection_rule(r, &s, &t);
        static const char *const types[] = {"table", "view"};
        if (!ra || strcmp(ra, "exclude") == 0 || !s)
            continue;
        if (!t)
            t = "%";
        rules++;
        for (size_t k = 0; k < 2; k++) {
            char *key;
            if (!admits(r, types[k]))
                continue;
            if (has_wildcard(s) || has_wildcard(t)) {
                put(o, "-- rule ");
                comment_text(o, json_string_value(json_object_get(r, "rule-name")));
                put(o, ": ");
                comment_text(o, s);
                put(o, ".");
                comment_text(o, t);
                put(o, " (%ss)\n", types[k]);
                wildcard_loop(o, mappings, s, t, types[k], quser);
                continue;
            }
            if (!co_tm_selects(mappings, s, t, types[k]) ||
                asprintf(&key, "%s\x1f%s\x1f%s", s, t, types[k]) < 0)
                continue;
            if (!json_object_get(seen, key)) {
                json_object_set_new(seen, key, json_true());
                explicit_table(o, s, t, types[k], quser);
            }
            free(key);
        }
    }
    if (rules == 0)
        put(o, "-- The run has no table mappings: for every table to migrate, run\n"
               "--   GRANT SELECT ON \"SCHEMA\".\"TABLE\" TO %s;\n"
               "--   ALTER TABLE \"SCHEMA\".\"TABLE\" ADD SUPPLEMENTAL LOG DATA "
               "(PRIMARY KEY) COLUMNS;\n", quser);
    json_decref(seen);
}

char *co_oracle_prereq_script_new(const json_t *source_doc, const json_t *table_mappings,
                                  const char *dms_user)
{
    out o = {{0}, CO_OK};
    out qu = {{0}, CO_OK};
    char *user = dms_user_new(source_doc, dms_user);
    if (!user)
        return NULL;
    qident(&qu, user);
    header(&o, source_doc, user);
    archivelog_check(&o);
    user_and_grants(&o, user);
    put(&o, "PROMPT 4. Minimal supplemental logging for the database\n"
            "ALTER DATABASE ADD SUPPLEMENTAL LOG DATA;\n\n");
    tables(&o, table_mappings, qu.b.data ? qu.b.data : "\"\"");
    put(&o, "\nPROMPT Done: approve the configure_source step of the cutover run.\n");
    free(user);
    if (qu.rc != CO_OK)
        o.rc = qu.rc;
    co_buf_free(&qu.b);
    return finish(&o);
}

/* ---- scripts for the cutover gate and the rollback task ------------------ */

/* "(OWNER LIKE .. AND TABLE LIKE .. OR ...) AND NOT (...)": the tables the
 * selection rules of mappings pick, over columns oc (owner) and tc (table
 * name) of a catalog view. Without rules: every non-system owner. */
static void selection_condition(out *o, const json_t *mappings, const char *oc,
                                const char *tc)
{
    size_t i, n = 0;
    json_t *r;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            put(o, "(1 = 0");
        json_array_foreach(json_object_get(mappings, "rules"), i, r) {
            const char *s, *t, *ra = selection_rule(r, &s, &t);
            bool exclude = ra && strcmp(ra, "exclude") == 0;
            if (!s || !ra || exclude != (pass == 1) || !admits(r, "table"))
                continue;
            n += !exclude;
            put(o, pass ? " AND NOT (" : " OR (");
            like_pair(o, oc, s, tc, t ? t : "%");
            put(o, ")");
        }
        if (pass == 0 && n == 0)
            put(o, " OR %s NOT IN (%s)", oc, system_schemas);
        if (pass == 0)
            put(o, ")");
    }
}

/* The first lines of a gate script: title, "-- Source: host/database",
 * then the usage text (comment lines) and the SQL*Plus settings. */
static void gate_header(out *o, const char *title, const json_t *source_doc,
                        const char *usage)
{
    put(o, "-- cutover: %s\n-- Source: ", title);
    comment_text(o, json_string_value(json_object_get(source_doc, "host")));
    put(o, "/");
    comment_text(o, json_string_value(json_object_get(source_doc, "database")));
    put(o, "\n--\n%s\n"
           "SET SERVEROUTPUT ON SIZE UNLIMITED\nSET VERIFY OFF\nSET DEFINE OFF\n"
           "WHENEVER SQLERROR EXIT SQL.SQLCODE\n\n", usage);
}

char *co_oracle_quiesce_script_new(const json_t *source_doc, const json_t *table_mappings,
                                   const char *dms_user)
{
    out o = {{0}, CO_OK};
    char *user = dms_user_new(source_doc, dms_user);
    if (!user)
        return NULL;
    gate_header(&o, "Oracle source quiesce check for the cutover gate (AWS's step 8)",
                source_doc,
                "-- Stop the applications, then run as a DBA, e.g.\n"
                "--   sqlplus / as sysdba @oracle_quiesce_check.sql\n"
                "-- It fails while application sessions are connected or transactions on\n"
                "-- the migrated tables are open; when it passes it checkpoints and switches\n"
                "-- the log so that AWS DMS reads the last changes. Then approve the\n"
                "-- cutover_gate step of the run.\n");
    put(&o, "PROMPT 1. Application sessions (V$SESSION): must be none\n"
            "SELECT SID, SERIAL#, USERNAME, MACHINE, PROGRAM, STATUS, LOGON_TIME\n"
            "  FROM V$SESSION WHERE TYPE = 'USER' AND USERNAME IS NOT NULL\n"
            "   AND SID <> SYS_CONTEXT('USERENV', 'SID')\n"
            "   AND USERNAME NOT IN (%s, ", system_schemas);
    lit(&o, user);
    put(&o, ");\nDECLARE\n  n NUMBER;\nBEGIN\n"
            "  SELECT COUNT(*) INTO n FROM V$SESSION WHERE TYPE = 'USER'\n"
            "   AND USERNAME IS NOT NULL AND SID <> SYS_CONTEXT('USERENV', 'SID')\n"
            "   AND USERNAME NOT IN (%s, ", system_schemas);
    lit(&o, user);
    put(&o, ");\n  IF n > 0 THEN\n"
            "    RAISE_APPLICATION_ERROR(-20002, n || ' application session(s) still "
            "connected: the source is not quiesced');\n  END IF;\nEND;\n/\n\n"
            "PROMPT 2. Open transactions on the migrated tables: must be none\n"
            "DECLARE\n  n NUMBER;\nBEGIN\n"
            "  SELECT COUNT(*) INTO n FROM V$LOCKED_OBJECT l JOIN ALL_OBJECTS ob\n"
            "    ON ob.OBJECT_ID = l.OBJECT_ID WHERE ");
    selection_condition(&o, table_mappings, "ob.OWNER", "ob.OBJECT_NAME");
    put(&o, ";\n  IF n > 0 THEN\n"
            "    RAISE_APPLICATION_ERROR(-20003, n || ' lock(s) held on migrated tables: "
            "transactions are still open');\n  END IF;\nEND;\n/\n\n"
            "PROMPT 3. Checkpoint and log switch\n"
            "ALTER SYSTEM CHECKPOINT;\nALTER SYSTEM ARCHIVE LOG CURRENT;\n"
            "SELECT CURRENT_SCN FROM V$DATABASE;\n\n"
            "PROMPT Quiesced: approve the cutover_gate step of the cutover run.\n");
    free(user);
    return finish(&o);
}

char *co_oracle_rollback_triggers_script_new(const json_t *source_doc,
                                             const json_t *table_mappings)
{
    out o = {{0}, CO_OK};
    gate_header(&o, "disable the triggers of the migrated tables on the Oracle source "
                    "before the rollback task replicates changes back into it",
                source_doc,
                "-- Run as a DBA at the cutover gate, before approving it. The rows the\n"
                "-- rollback task applies already carry the triggers' effects from the new\n"
                "-- database. The output lists the ALTER TRIGGER ... ENABLE statements that\n"
                "-- undo it; keep them for when the fallback is given up.\n");
    put(&o, "BEGIN\n  FOR t IN (SELECT OWNER, TRIGGER_NAME FROM ALL_TRIGGERS\n"
            "             WHERE STATUS = 'ENABLED' AND BASE_OBJECT_TYPE = 'TABLE'\n"
            "               AND ");
    selection_condition(&o, table_mappings, "TABLE_OWNER", "TABLE_NAME");
    put(&o, "\n             ORDER BY OWNER, TRIGGER_NAME) LOOP\n"
            "    EXECUTE IMMEDIATE 'ALTER TRIGGER \"' || REPLACE(t.OWNER, '\"', '\"\"') ||\n"
            "      '\".\"' || REPLACE(t.TRIGGER_NAME, '\"', '\"\"') || '\" DISABLE';\n"
            "    DBMS_OUTPUT.PUT_LINE('ALTER TRIGGER \"' || t.OWNER || '\".\"' ||\n"
            "      t.TRIGGER_NAME || '\" ENABLE;');\n  END LOOP;\nEND;\n/\n");
    return finish(&o);
}

char *co_oracle_view_logging_script_new(const json_t *source_doc, const char *schema,
                                        const char *table)
{
    out o = {{0}, CO_OK};
    if (!schema || !table)
        return NULL;
    gate_header(&o, "supplemental logging of the staged table on the Oracle source "
                    "(view migration)",
                source_doc,
                "-- Review, then run as a DBA (or the table's owner), e.g.\n"
                "--   sqlplus / as sysdba @oracle_view_supplemental_logging.sql\n"
                "-- AWS DMS CDC of the staging task needs every column of the staged\n"
                "-- table in the redo log. Then approve the configure_source step of the\n"
                "-- run. The statement can be run again.\n");
    put(&o, "PROMPT 1. Supplemental logging of all columns of the staged table\n"
            "ALTER TABLE ");
    qident(&o, schema);
    put_ch(&o, '.');
    qident(&o, table);
    put(&o, " ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS;\n\n"
            "PROMPT Done: approve the configure_source step of the cutover run.\n");
    return finish(&o);
}
