/* plans.c - GET /v1/plans and /v1/plans/{id}: the static plan tables of
 * engine/plans.c, the same ones the runner executes. */
#include "engine/params.h"
#include "engine/plans.h"
#include "handlers/handlers.h"

static json_t *plan_json(const co_plan_def *plan)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < plan->nsteps; i++) {
        const co_step_def *s = &plan->steps[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s?}", "id", s->id,
                              "title", s->title, "description", s->description,
                              "gate", s->gate, "system", s->system,
                              "optional_parameter",
                              s->optional_param[0] ? s->optional_param : NULL);
        if (s->aws_step)
            json_object_set_new(o, "aws_step", json_integer(s->aws_step));
        json_object_set_new(o, "optional", json_boolean(s->optional_param[0] != 0));
        json_array_append_new(steps, o);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "id", plan->id, "title", plan->title,
                     "steps", steps, "parameters", co_params_describe(plan));
}

co_status h_plans_list(co_request *req, co_response *resp)
{
    json_t *items = json_array();
    (void)req;
    for (int i = 0; i < CO_PLAN_LAST; i++)
        json_array_append_new(items, plan_json(co_plan_get((co_plan_id)i)));
    co_resp_page(resp, items, false, 0);
    return CO_OK;
}

co_status h_plans_get(co_request *req, co_response *resp)
{
    const co_plan_def *plan = co_plan_find(req->params[0]);
    if (!plan)
        return co_error_set(&resp->err, CO_ERR_NOT_FOUND,
                            "plan %s does not exist (oracle-to-postgres, "
                            "view-migration)", req->params[0]);
    co_resp_json(resp, 200, plan_json(plan));
    return CO_OK;
}
