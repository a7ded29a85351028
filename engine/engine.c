/* engine.c - see engine.h. */
#include "engine/engine.h"

#include <string.h>

#include "engine/awsdms.h"
#include "engine/pglogical.h"

#define MAX_ENGINES 8

static const co_engine *registry[MAX_ENGINES];
static int nregistry;

int co_engine_register(const co_engine *engine)
{
    if (nregistry == MAX_ENGINES || co_engine_find(engine->name))
        return -1;
    registry[nregistry++] = engine;
    return 0;
}

const co_engine *co_engine_find(const char *name)
{
    for (int i = 0; name && i < nregistry; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

__attribute__((weak)) void co_engine_register_extra(void)
{
}

void co_engine_register_builtin(void)
{
    if (co_engine_find("pg-logical"))
        return;
    co_engine_register(&co_pg_logical_engine);
    co_engine_register(&co_aws_dms_engine);
    co_engine_register_extra();
}
