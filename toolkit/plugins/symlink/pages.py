from quart import Blueprint
pages = Blueprint("symlink_pages", __name__)
