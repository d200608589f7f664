"""`python -m projector`: run the projector's arq worker until SIGINT or SIGTERM."""

from arq.worker import Worker
from prometheus_client import start_http_server

from projector.worker import worker_settings
from settings import get_settings


def main() -> None:
    settings = get_settings()
    start_http_server(settings.projector_metrics_port, addr=settings.projector_metrics_host)
    Worker(**worker_settings(settings)).run()


if __name__ == "__main__":
    main()
