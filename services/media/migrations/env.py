from common.alembic_env import run_migrations
from services.media.models import Base

run_migrations(Base.metadata)
