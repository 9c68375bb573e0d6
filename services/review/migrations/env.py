from common.alembic_env import run_migrations
from services.review.models import Base

run_migrations(Base.metadata)
