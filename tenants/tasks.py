from __future__ import annotations

from django_tenants.utils import tenant_context

from pdm_saas.celery import PublicTask, app
from tenants.selectors import tenant_active_list


@app.task(name="tenants.tasks.tenants_dispatch", base=PublicTask)
def tenants_dispatch(task_name: str) -> int:
    """Fan one scheduled task out to every active tenant, each message carrying its tenant."""
    count = 0
    for tenant in tenant_active_list().iterator():
        with tenant_context(tenant):
            app.send_task(task_name)
        count += 1
    return count


@app.task(name="tenants.tasks.tenant_export_task")
def tenant_export_task(job_id: int) -> None:
    from jobs.services import job_execute
    from tenants.db import connection
    from tenants.services import tenant_export_write

    tenant = connection.tenant
    job_execute(
        job_id=job_id,
        handler=lambda job, progress: tenant_export_write(tenant=tenant, job_id=job.id, progress=progress),
    )


@app.task(name="tenants.tasks.spare_pool_fill_task", base=PublicTask)
def spare_pool_fill_task() -> int:
    from django.conf import settings

    from tenants.provisioning import spare_pool_fill

    return spare_pool_fill(target=settings.TENANT_SPARE_SCHEMAS)
